import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { RuntimeError } from '../errors.js';
import { Label } from '../labels.js';
import { packagePath } from '../paths.js';
import type { Runtime } from '../runtime/runtime.js';

/** Where the node image's build inputs live. */
export const nodeImageContext = packagePath('templates', 'node');
/** Debian base images tried in order before bootstrapping one. */
export const debianBase = 'debian:bookworm-slim';
/** The base podlab bootstraps from Debian's mirror when no image can be found or pulled. */
export const bootstrappedBase = 'podlab-base:bookworm';

export interface ImageOptions {
  /** Pull the Debian base when no local one exists (default true; PODLAB_PULL=never turns it off). */
  pull: boolean;
  /** Mirror for debootstrap; absent: debootstrap's own default. */
  mirror?: string;
  /** Rebuild even when the tagged image exists. */
  rebuild?: boolean;
  log: (line: string) => void;
}

/** Options from the environment: PODLAB_PULL=never, PODLAB_DEBIAN_MIRROR. */
export function imageOptionsFromEnv(log: (line: string) => void): ImageOptions {
  const mirror = process.env.PODLAB_DEBIAN_MIRROR;
  return { pull: process.env.PODLAB_PULL !== 'never', ...(mirror ? { mirror } : {}), log };
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(full)));
    else out.push(full);
  }
  return out.sort();
}

/** The node image's tag: `podlab-node:<hash of every build input, with file modes>`. */
export async function nodeImageRef(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of await listFiles(nodeImageContext)) {
    const info = await stat(file);
    hash.update(`${relative(nodeImageContext, file)}\0${info.mode & 0o111 ? 'x' : '-'}\0`);
    hash.update(await readFile(file));
  }
  return `podlab-node:${hash.digest('hex').slice(0, 12)}`;
}

/**
 * Makes sure the node image exists: builds it when missing, from a local Debian base, else a pulled
 * one, else one bootstrapped offline from Debian's package mirror; fails saying what to do otherwise.
 */
export async function ensureNodeImage(runtime: Runtime, options: ImageOptions): Promise<string> {
  const ref = await nodeImageRef();
  if (!options.rebuild && (await runtime.hasImage(ref))) return ref;
  const base = await ensureBase(runtime, options);
  options.log(`building ${ref} from ${base}`);
  const files = (await listFiles(nodeImageContext)).map((f) => relative(nodeImageContext, f));
  await runtime.buildImage({
    context: nodeImageContext,
    files,
    tag: ref,
    buildArgs: { BASE: base },
    labels: { [Label.image]: 'node' },
    // The Dockerfile's first stage carries this label (templates/node/Dockerfile).
    stageLabel: `${Label.image}=node-build`,
  });
  return ref;
}

async function ensureBase(runtime: Runtime, options: ImageOptions): Promise<string> {
  for (const candidate of [debianBase, bootstrappedBase]) {
    if (await runtime.hasImage(candidate)) return candidate;
  }
  if (options.pull) {
    options.log(`pulling ${debianBase}`);
    try {
      await runtime.pullImage(debianBase);
      return debianBase;
    } catch (error) {
      options.log(
        `could not pull ${debianBase} (${(error as Error).message.split('\n')[0]}); bootstrapping one from Debian's mirror`,
      );
    }
  }
  await bootstrapBase(runtime, options);
  return bootstrappedBase;
}

/** debootstrap a minimal Debian into a temporary folder and import it as the base image. */
async function bootstrapBase(runtime: Runtime, options: ImageOptions): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'podlab-rootfs-'));
  try {
    options.log(`bootstrapping ${bootstrappedBase} with debootstrap (about half a minute)`);
    const args = ['--variant=minbase', 'bookworm', dir, ...(options.mirror ? [options.mirror] : [])];
    await run('debootstrap', args, 'debootstrap');
    // The packages debootstrap downloaded stay in its cache; the base needs none of them.
    await rm(join(dir, 'var', 'cache', 'apt', 'archives'), { recursive: true, force: true });
    const tar = spawn('tar', ['-C', dir, '-c', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const tarDone = exited(tar, 'tar');
    await runtime.importImage(tar.stdout, bootstrappedBase);
    await tarDone;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function run(command: string, args: string[], what: string): Promise<void> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return exited(child, what);
}

function exited(child: ReturnType<typeof spawn>, what: string): Promise<void> {
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    if (what !== 'tar') output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  return new Promise((resolve, reject) => {
    child.on('error', (error: NodeJS.ErrnoException) =>
      reject(
        new RuntimeError(
          error.code === 'ENOENT'
            ? `no Debian image is available and ${what} is not installed, so none can be bootstrapped`
            : `${what} failed: ${error.message}`,
          'load a Debian image into the engine (docker load -i debian.tar; tag it debian:bookworm-slim), or install debootstrap (apt-get install debootstrap) and run as root',
        ),
      ),
    );
    child.on('close', (code) => {
      if (code === 0) resolve();
      else
        reject(
          new RuntimeError(
            `${what} exited with ${code}: ${output.trim().split('\n').slice(-5).join('\n')}`,
            "check that Debian's mirror is reachable, or name one with PODLAB_DEBIAN_MIRROR; or load a Debian image (docker load)",
          ),
        );
    });
  });
}

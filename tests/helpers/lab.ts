import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { removeLab } from '../../src/apply/remove.js';
import type { statusJson } from '../../src/commands/status.js';
import { DockerRuntime } from '../../src/runtime/docker-runtime.js';
import { writeTopology } from './context.js';

/** What a `lab` command did. */
export interface LabRun {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the `lab` executable exactly as a user would. */
export function lab(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; input?: string; wrap?: string[] } = {},
): Promise<LabRun> {
  const started = performance.now();
  // `wrap`: a command that runs lab, e.g. unshare --net (a CLI that cannot reach the lab's network).
  const [file, ...rest] = [...(options.wrap ?? []), join(process.cwd(), 'lab'), ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(file!, rest, {
      cwd: options.cwd ?? process.cwd(),
      env: { ...process.env, PODLAB_PULL: 'never', ...options.env },
      stdio: 'pipe',
    });
    child.stdin.end(options.input ?? '');
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code: code ?? -1, stdout, stderr, ms: performance.now() - started }),
    );
  });
}

/** Runs `lab` and fails the test, showing its output, unless it exits with `code`. */
export async function labOk(t: ExecutionContext, args: string[], code = 0): Promise<LabRun> {
  const run = await lab(args);
  if (run.code !== code)
    t.fail(`lab ${args.join(' ')} exited ${run.code}, not ${code}\n${run.stderr}\n${run.stdout}`);
  return run;
}

/**
 * The engine every integration test needs. A missing engine fails the test: these tests exist to
 * prove the lab on a real engine, and one that cannot run proves nothing.
 */
export async function engine(): Promise<DockerRuntime> {
  const runtime = new DockerRuntime();
  await runtime.version();
  return runtime;
}

/** The example lab under another name and node subnet, so that tests never touch a user's labs or each other. */
export function exampleAs(
  name: string,
  nodeSubnet: string,
  edit: (text: string) => string = (s) => s,
): string {
  const text = readFileSync(join(process.cwd(), 'lab.example.yaml'), 'utf8')
    .replace(/^name: demo\b/m, `name: ${name}`)
    .replace(/^ {2}# nodeSubnet: .*$/m, `  nodeSubnet: ${nodeSubnet}`)
    // The copy lives elsewhere: its exercise paths must still point into this checkout.
    .replace(/^ {2}- templates\/exercises\//gm, `  - ${join(process.cwd(), 'templates', 'exercises')}/`)
    // Labs of the example run side by side: each publishes bar/foo on a host port of its own.
    .replace(/hostPort: 8080\b/, `hostPort: ${hostPortFor(nodeSubnet)}`);
  if (!text.includes(`nodeSubnet: ${nodeSubnet}`))
    throw new Error('lab.example.yaml changed shape: nodeSubnet line not found');
  return writeTopology(edit(text));
}

/** A host port of a test lab's own, from its node subnet: 172.31.X.0/24 publishes on 18000 + X. */
export function hostPortFor(nodeSubnet: string): number {
  return 18000 + Number(nodeSubnet.split('.')[2]);
}

/**
 * Registers the hooks of a test file that owns these labs: before its tests, an engine must answer
 * (a missing one fails, never skips) and what an earlier run left of them is removed; after, they go.
 */
export function ownLabs(...names: string[]): void {
  test.before(async () => {
    await engine();
    await Promise.all(names.map(clearLab));
  });
  test.after.always(async () => {
    await Promise.all(names.map(clearLab));
  });
}

/** Removes what an earlier, interrupted run of this test left behind (the engine keeps containers). */
export async function clearLab(name: string): Promise<void> {
  await removeLab(await engine(), name);
}

/** Status of a lab as `lab status --json` prints it. */
export type StatusJson = ReturnType<typeof statusJson>;

export async function status(t: ExecutionContext, name: string): Promise<StatusJson> {
  return JSON.parse((await labOk(t, ['status', name, '--json'])).stdout) as StatusJson;
}

/** How many containers and networks carry the lab's label. */
export async function leftovers(name: string): Promise<number> {
  const runtime = await engine();
  return (
    (await runtime.listContainers({ 'io.podlab.lab': name })).length +
    (await runtime.listNetworks({ 'io.podlab.lab': name })).length
  );
}

/**
 * Starts `lab up`; `reached` resolves once its progress shows `step` (the simple renderer prints
 * "❯ <title>"), and rejects if up ends first.
 */
export function upUntil(
  file: string,
  step: RegExp,
): {
  child: ChildProcessWithoutNullStreams;
  reached: Promise<void>;
  done: Promise<{ code: number | null; signal: string | null; stderr: string }>;
} {
  const child = spawn(join(process.cwd(), 'lab'), ['up', '-f', file], {
    env: { ...process.env, PODLAB_PULL: 'never', CI: 'true' },
  });
  let stderr = '';
  let settle: (error?: Error) => void;
  const reached = new Promise<void>((resolve, reject) => {
    settle = (error) => (error ? reject(error) : resolve());
  });
  reached.catch(() => {});
  child.stderr.on('data', (d: Buffer) => {
    stderr += d;
    if (step.test(stderr)) settle();
  });
  child.stdout.resume();
  const done = new Promise<{ code: number | null; signal: string | null; stderr: string }>((r) =>
    child.on('close', (code, signal) => {
      settle(new Error(`lab up ended (${code ?? signal}) before ${step.source}:\n${stderr}`));
      r({ code, signal, stderr });
    }),
  );
  return { child, reached, done };
}

/** What podlab-echo answers. */
export type { Echo } from '../../src/conformance/probes.js';

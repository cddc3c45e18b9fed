import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type LoadedTopology, loadTopology } from '../config/load.js';
import { formatIssue, LabStateError } from '../errors.js';
import { packagePath } from '../paths.js';
import { DockerRuntime } from '../runtime/docker-runtime.js';
import type { Runtime } from '../runtime/runtime.js';
import { listLabs } from '../state/observe.js';

/** Where a command writes: results to `out` (stdout, for scripts), progress and notes to `err`. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Whether progress may redraw in place (a terminal, not CI). */
  interactive: boolean;
  /** No progress output at all (tests, --json). */
  quiet?: boolean;
}

/** The process's own streams. */
export function processIo(): Io {
  return {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    interactive: Boolean(process.stderr.isTTY) && !process.env.CI,
  };
}

/** Everything a command may use; tests build one with a fake runtime. */
export interface CommandContext {
  io: Io;
  runtime(): Runtime;
  cwd: string;
}

export function defaultContext(): CommandContext {
  let runtime: Runtime | undefined;
  return { io: processIo(), runtime: () => (runtime ??= new DockerRuntime()), cwd: process.cwd() };
}

/** The shipped example, used when no -f is given and there is no ./lab.yaml. */
export const exampleFile = packagePath('lab.example.yaml');

/** `-f FILE`, else ./lab.yaml when it exists, else the shipped example. */
export async function topologyFile(ctx: CommandContext, file?: string): Promise<string> {
  if (file) return resolve(ctx.cwd, file);
  const local = resolve(ctx.cwd, 'lab.yaml');
  try {
    await access(local);
    return local;
  } catch {
    return exampleFile;
  }
}

/** Loads the topology and prints its warnings. */
export async function loadFor(ctx: CommandContext, file?: string): Promise<LoadedTopology> {
  const loaded = await loadTopology(await topologyFile(ctx, file));
  for (const w of loaded.warnings) ctx.io.err(`warning: ${formatIssue(w)}`);
  return loaded;
}

/**
 * Which lab a command is about: NAME, else the one in -f FILE, else ./lab.yaml's, else the only lab
 * running, else the example's.
 */
export async function labName(
  ctx: CommandContext,
  options: { name?: string; file?: string },
): Promise<string> {
  if (options.name) return options.name;
  const file = await topologyFile(ctx, options.file);
  if (options.file || file !== exampleFile) return (await loadTopology(file)).topology.name;
  const running = await listLabs(ctx.runtime());
  if (running.length === 1) return running[0]!;
  const example = (await loadTopology(exampleFile)).topology.name;
  if (running.length === 0 || running.includes(example)) return example;
  throw new LabStateError(
    `several labs are up (${running.join(', ')}) and none was named`,
    'name one: lab status NAME, or -f FILE',
  );
}

import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type Clock, systemClock } from '../clock.js';
import { usedEngines } from '../config/engines.js';
import { type LoadedTopology, loadTopology } from '../config/load.js';
import type { Topology } from '../config/types.js';
import { formatIssue, LabStateError } from '../errors.js';
import { type Host, localHost } from '../host/host.js';
import { type Io, processIo } from '../io.js';
import { packagePath } from '../paths.js';
import { defaultRuntime } from '../runtime/docker-runtime.js';
import type { Runtime } from '../runtime/runtime.js';
import { labOwners } from '../state/observe.js';

export type { Io } from '../io.js';

/**
 * Everything a command may use, injected: the engine, the host (routes, /proc, locks), the clock and
 * the output streams. Tests build one with a fake runtime and a fake host.
 */
export interface CommandContext {
  io: Io;
  runtime(): Runtime;
  host: Host;
  clock: Clock;
  cwd: string;
}

/** The real engine, host, clock and streams. */
export function defaultContext(): CommandContext {
  let runtime: Runtime | undefined;
  return {
    io: processIo(),
    runtime: () => (runtime ??= defaultRuntime()),
    host: localHost(),
    clock: systemClock,
    cwd: process.cwd(),
  };
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
  useEnginesOf(ctx, loaded.topology);
  return loaded;
}

/** A lab across engines: its file says where they are (its objects say so too, once one is found). */
function useEnginesOf(ctx: CommandContext, topology: Topology): void {
  const engines = usedEngines(topology);
  if (!engines.length) return;
  try {
    ctx.runtime().useEngines?.(engines, topology.name);
  } catch {
    // An engine that cannot be reached as written (TLS files missing): the command that needs it
    // says so (up joins the engines itself); one that needs no engine (plan, graph) goes on.
  }
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
  if (options.file || file !== exampleFile) {
    const { topology } = await loadTopology(file);
    useEnginesOf(ctx, topology);
    return topology.name;
  }
  // Only the caller's labs (and those made before podlab recorded who made them): on a shared
  // teaching machine a bare command never picks another student's lab.
  const me = ctx.host.owner();
  const running = [...(await labOwners(ctx.runtime()))]
    .filter(([, owner]) => !owner || owner === me)
    .map(([lab]) => lab);
  if (running.length === 1) return running[0]!;
  const example = (await loadTopology(exampleFile)).topology.name;
  if (running.length === 0 || running.includes(example)) return example;
  throw new LabStateError(
    `several of your labs are up (${running.join(', ')}) and none was named`,
    'name one: lab status NAME, or -f FILE (lab ls lists them)',
  );
}

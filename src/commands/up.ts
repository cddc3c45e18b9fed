import { Listr, ListrLogger, ProcessOutput } from 'listr2';
import { type Action, type ApplyContext, upActions } from '../apply/actions.js';
import { removeLab } from '../apply/remove.js';
import type { Topology } from '../config/types.js';
import {
  EngineUnreachableError,
  ExitCode,
  InterruptedError,
  LabStateError,
  messageOf,
  RuntimeError,
  SubnetTakenError,
} from '../errors.js';
import { render, tally } from '../exercises/report.js';
import { neighbourWarning, preflight } from '../host/doctor.js';
import { acquireLock } from '../host/lock.js';
import { imageOptionsFromEnv } from '../image/node-image.js';
import type { LabPlan } from '../plan/types.js';
import type { Runtime } from '../runtime/runtime.js';
import { observeLab } from '../state/observe.js';
import { count } from '../text.js';
import { type CommandContext, type Io, loadFor } from './context.js';
import { renderStatus, statusJson } from './status.js';
import { planFor } from './up-plan.js';

export interface UpOptions {
  file?: string;
  retain?: boolean;
  json?: boolean;
  /** Run the conformance checks once the lab is up (for CI one-liners). */
  test?: boolean;
  /** For the benchmark: wraps the actions (to attribute engine calls to phases), receives the timings. */
  instrument?: { actions(actions: Action[]): Action[]; timings(timings: PhaseTimings): void };
}

/** Time each phase took, for the benchmark. */
export type PhaseTimings = Record<string, number>;

/** How long a second `up` of the same lab waits for the first before giving up. */
const lockWaitMs = 10 * 60_000;
/** How often `up` picks another node subnet when concurrent labs keep taking the one it picked. */
const subnetAttempts = 5;

/**
 * `lab up`: plan, then apply the actions; on failure remove what this run created unless --retain.
 * One `up` of a lab at a time: a second waits for the first, then finds the lab up.
 */
export default async function up(ctx: CommandContext, options: UpOptions): Promise<number> {
  const { topology } = await loadFor(ctx, options.file);
  const runtime = ctx.runtime();
  await runtime.version();
  await preflight();
  const lock = await acquireLock(`lab-${topology.name}`, {
    waitMs: lockWaitMs,
    onWait: () => ctx.io.err(`another lab up of ${topology.name} is running; waiting for it to finish`),
  });
  try {
    return await upLocked(ctx, runtime, topology, options);
  } finally {
    await lock.release();
  }
}

async function upLocked(
  ctx: CommandContext,
  runtime: Runtime,
  topology: Topology,
  options: UpOptions,
): Promise<number> {
  const existing = await observeLab(runtime, topology.name);
  let plan = await planFor(topology, runtime);
  if (existing) {
    const complete =
      existing.problems.length === 0 && existing.containers.length === expectedContainers(plan);
    if (existing.topologyHash && existing.topologyHash !== plan.topologyHash) {
      throw new LabStateError(
        `lab ${topology.name} is up with a different topology`,
        `run lab down ${topology.name} first, or give this lab another name`,
      );
    }
    if (complete) {
      ctx.io.err(`lab ${topology.name} is already up; nothing to do`);
      return report(ctx, runtime, topology.name, options);
    }
    const what = `${count(existing.containers.length, 'container')}${existing.network ? ' and its network' : ''}`;
    if (existing.containers.length > 0 && existing.containers.every((c) => c.state !== 'running'))
      ctx.io.err(
        `lab ${topology.name} is stopped (${what}, none running, as after an engine restart); removing it and building it again`,
      );
    else
      ctx.io.err(
        `found leftovers of an earlier, unfinished run of lab ${topology.name} (${what}); removing them first`,
      );
    await removeLab(runtime, topology.name);
  }

  const crowded = await neighbourWarning(plan);
  if (crowded) ctx.io.err(`warning: ${crowded.message}\n  → ${crowded.fix}`);

  const abort = new AbortController();
  const inflight: Promise<unknown>[] = [];
  const refused: string[] = [];
  const stopOnSignal = onSignals(ctx.io, topology.name, abort);
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        const actions = options.instrument?.actions(upActions()) ?? upActions();
        // Not inside `instrument?.timings(…)`: an optional call skips evaluating its arguments.
        const timings = await applyPlan(runtime, plan, ctx.io, { signal: abort.signal, inflight, actions });
        options.instrument?.timings(timings);
        break;
      } catch (error) {
        // Another lab took the subnet between planning and creating: plan again with a fresh one.
        if (!(error instanceof SubnetTakenError) || topology.cluster.nodeSubnet || attempt >= subnetAttempts)
          throw error;
        ctx.io.err(`node subnet ${plan.nodeSubnet} was taken meanwhile by another lab; picking another`);
        refused.push(plan.nodeSubnet);
        await removeLab(runtime, topology.name);
        plan = await planFor(topology, runtime, refused);
      }
    }
  } catch (error) {
    const lost = await rollback(ctx, runtime, topology.name, options, inflight, error);
    // While it shuts down, an engine answers some calls and not others: any sign that it went away counts.
    const gone =
      error instanceof InterruptedError
        ? undefined
        : error instanceof EngineUnreachableError
          ? error.message
          : (lost ?? (await engineGone(runtime)));
    if (gone) {
      throw new RuntimeError(
        `the Docker engine went away during lab up: ${gone}${error instanceof EngineUnreachableError ? '' : `\n  its last answer: ${messageOf(error)}`}`,
        `start it again, then remove what is left with: lab down ${topology.name} (or run lab up again: it clears the leftovers first)`,
        { cause: error },
      );
    }
    throw error;
  } finally {
    stopOnSignal();
  }
  return report(ctx, runtime, topology.name, options, new Map(plan.pods.map((p) => [p.key, p.ip])));
}

/**
 * Removes what a failed or interrupted `up` created, unless --retain. Steps still running when a
 * signal came (container creates) may add containers after the first removal, so once they settle
 * the removal runs again. A cleanup error is reported, never thrown over the original one; returns
 * why the engine could not be reached when that is what stopped the cleanup.
 */
async function rollback(
  ctx: CommandContext,
  runtime: Runtime,
  lab: string,
  options: UpOptions,
  inflight: Promise<unknown>[],
  error: unknown,
): Promise<string | undefined> {
  const interrupted = error instanceof InterruptedError;
  if (options.retain) {
    ctx.io.err(
      `up ${interrupted ? 'interrupted' : 'failed'}; kept what it created (--retain). Remove it with: lab down ${lab}`,
    );
    return undefined;
  }
  ctx.io.err(
    `up ${interrupted ? 'interrupted' : 'failed'}; removing what it created (keep it with --retain)`,
  );
  try {
    await removeLab(runtime, lab);
    const settled = await Promise.race([
      Promise.allSettled(inflight).then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), 30_000).unref()),
    ]);
    await removeLab(runtime, lab);
    if (!settled)
      ctx.io.err(`a step was still running after 30 s; if anything is left, run: lab down ${lab}`);
  } catch (cleanup) {
    const gone = cleanup instanceof EngineUnreachableError ? cleanup.message : await engineGone(runtime);
    if (gone) {
      ctx.io.err('cleanup stopped: the Docker engine went away; what is left stays until it is back');
      return gone;
    }
    ctx.io.err(`cleanup failed too (${messageOf(cleanup)}); run: lab down ${lab}`);
  }
  return undefined;
}

/** Why the engine cannot be reached now; undefined when it answers (even with an error). */
async function engineGone(runtime: Runtime): Promise<string | undefined> {
  try {
    await runtime.version();
    return undefined;
  } catch (error) {
    return error instanceof EngineUnreachableError ? error.message : undefined;
  }
}

/** Containers a complete lab has: nodes, sandboxes and pod containers. */
function expectedContainers(plan: LabPlan): number {
  return plan.nodes.length + plan.pods.length + plan.pods.reduce((n, p) => n + p.containers.length, 0);
}

/** Options of applyPlan: an abort signal, and a list that collects the steps still running. */
export interface ApplyOptions {
  signal?: AbortSignal;
  /** Each step's promise, so that a rollback can wait for steps a signal interrupted. */
  inflight?: Promise<unknown>[];
  actions?: Action[];
}

/**
 * Runs the up actions as listr2 tasks; returns how long each phase took. An abort stops waiting for
 * the running step at once (its promise goes to `inflight`) and fails with InterruptedError.
 */
export async function applyPlan(
  runtime: Runtime,
  plan: LabPlan,
  io: Io,
  options: ApplyOptions = {},
): Promise<PhaseTimings> {
  const { signal, inflight = [], actions = upActions() } = options;
  const ctx: ApplyContext = {
    runtime,
    plan,
    image: imageOptionsFromEnv((line) => io.err(`  ${line}`)),
    sandboxIds: new Map(),
  };
  const aborted = new Promise<never>((_, reject) => {
    signal?.addEventListener('abort', () => reject(new InterruptedError('interrupted')), { once: true });
  });
  aborted.catch(() => {});
  const timings: PhaseTimings = {};
  const tasks = new Listr(
    actions.map((action) => ({
      title: action.title,
      task: async () => {
        if (signal?.aborted) throw new InterruptedError('interrupted');
        const started = performance.now();
        const running = action.run(ctx);
        inflight.push(running.catch(() => {}));
        await Promise.race([running, aborted]);
        timings[action.phase] = Math.round(performance.now() - started);
      },
    })),
    {
      renderer: io.quiet ? 'silent' : io.interactive ? 'default' : 'simple',
      rendererOptions: {
        logger: new ListrLogger({ processOutput: new ProcessOutput(process.stderr, process.stderr) }),
      },
      registerSignalListeners: false,
      exitOnError: true,
      collectErrors: false,
    },
  );
  await tasks.run();
  return timings;
}

/** Prints the lab; `verified`: pod addresses the ready step has just checked inside the nodes. */
async function report(
  ctx: CommandContext,
  runtime: Runtime,
  name: string,
  options: UpOptions,
  verified?: Map<string, string>,
): Promise<number> {
  const state = await observeLab(runtime, name, verified ? { podIPs: verified } : {});
  if (!state) throw new LabStateError(`lab ${name} vanished right after up`);
  if (options.json) ctx.io.out(JSON.stringify(statusJson(state), null, 2));
  else {
    ctx.io.out(renderStatus(state));
    ctx.io.out(`\nnext: lab status ${name} · lab exec NS/POD -- CMD · lab test ${name} · lab down ${name}`);
  }
  if (!options.test) return ExitCode.ok;
  const { conformance } = await import('./test.js');
  const results = await conformance(runtime, name);
  ctx.io.out(`\n${render('pretty', name, results, ctx.io.interactive)}`);
  return tally(results).failed ? ExitCode.failed : ExitCode.ok;
}

/**
 * First SIGINT/SIGTERM: stop waiting for the running step and roll back; a second one exits at once,
 * saying how to clean up.
 */
function onSignals(io: Io, lab: string, abort: AbortController): () => void {
  const handler = (signal: NodeJS.Signals) => {
    if (abort.signal.aborted) {
      io.err(`\n${signal} again: exiting now. Remove what is left with: lab down ${lab}`);
      process.exit(ExitCode.interrupted);
    }
    io.err(`\n${signal}: stopping, and removing what this run created (again to exit at once)`);
    abort.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

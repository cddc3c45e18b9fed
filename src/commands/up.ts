import { Listr, ListrLogger, ProcessOutput } from 'listr2';
import { type Action, type ApplyContext, upActions } from '../apply/actions.js';
import { removeLab } from '../apply/remove.js';
import { ExitCode, InterruptedError, LabStateError, messageOf } from '../errors.js';
import { render, tally } from '../exercises/report.js';
import { imageOptionsFromEnv } from '../image/node-image.js';
import type { LabPlan } from '../plan/types.js';
import type { Runtime } from '../runtime/runtime.js';
import { observeLab } from '../state/observe.js';
import { type CommandContext, type Io, loadFor } from './context.js';
import { renderStatus, statusJson } from './status.js';
import { planFor } from './up-plan.js';

export interface UpOptions {
  file?: string;
  retain?: boolean;
  json?: boolean;
  /** Run the conformance checks once the lab is up (for CI one-liners). */
  test?: boolean;
}

/** Time each phase took, for `--json` and the benchmark. */
export type PhaseTimings = Record<string, number>;

/** `lab up`: plan, then apply the actions; on failure remove what this run created unless --retain. */
export default async function up(ctx: CommandContext, options: UpOptions): Promise<number> {
  const { topology } = await loadFor(ctx, options.file);
  const runtime = ctx.runtime();
  await runtime.version();

  const existing = await observeLab(runtime, topology.name);
  const plan = await planFor(topology, runtime);
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
    ctx.io.err(`found leftovers of an earlier, unfinished run of lab ${topology.name}; removing them first`);
    await removeLab(runtime, topology.name);
  }

  const abort = new AbortController();
  const stopOnSignal = onSignals(ctx.io, topology.name, abort);
  try {
    await applyPlan(runtime, plan, ctx.io, abort.signal);
  } catch (error) {
    if (!options.retain) {
      ctx.io.err(`up failed; removing what it created (keep it with --retain)`);
      await removeLab(runtime, topology.name).catch((cleanup: unknown) =>
        ctx.io.err(`cleanup failed too (${messageOf(cleanup)}); run: lab down ${topology.name}`),
      );
    } else {
      ctx.io.err(`up failed; kept what it created (--retain). Remove it with: lab down ${topology.name}`);
    }
    throw error;
  } finally {
    stopOnSignal();
  }
  return report(ctx, runtime, topology.name, options);
}

/** Containers a complete lab has: nodes, sandboxes and pod containers. */
function expectedContainers(plan: LabPlan): number {
  return plan.nodes.length + plan.pods.length + plan.pods.reduce((n, p) => n + p.containers.length, 0);
}

/** Runs the up actions as listr2 tasks; returns how long each phase took. */
export async function applyPlan(
  runtime: Runtime,
  plan: LabPlan,
  io: Io,
  signal?: AbortSignal,
  actions: Action[] = upActions(),
): Promise<PhaseTimings> {
  const ctx: ApplyContext = {
    runtime,
    plan,
    image: imageOptionsFromEnv((line) => io.err(`  ${line}`)),
    podIPs: new Map(),
    sandboxIds: new Map(),
  };
  const timings: PhaseTimings = {};
  const tasks = new Listr(
    actions.map((action) => ({
      title: action.title,
      task: async () => {
        if (signal?.aborted) throw new InterruptedError('interrupted');
        const started = performance.now();
        await action.run(ctx);
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

async function report(
  ctx: CommandContext,
  runtime: Runtime,
  name: string,
  options: UpOptions,
): Promise<number> {
  const state = await observeLab(runtime, name);
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
 * First SIGINT/SIGTERM: stop after the running step and roll back; a second one exits at once,
 * saying how to clean up.
 */
function onSignals(io: Io, lab: string, abort: AbortController): () => void {
  const handler = (signal: NodeJS.Signals) => {
    if (abort.signal.aborted) {
      io.err(`\n${signal} again: exiting now. Remove what is left with: lab down ${lab}`);
      process.exit(ExitCode.interrupted);
    }
    io.err(
      `\n${signal}: stopping after the current step and removing what this run created (again to exit at once)`,
    );
    abort.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

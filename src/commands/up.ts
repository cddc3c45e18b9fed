import { Lab } from '../api/lab.js';
import type { Action, PullMode } from '../apply/actions.js';
import { upHost } from '../apply/prepare.js';
import type { PhaseTimings } from '../apply/run.js';
import { type UpOutcome, upLab } from '../apply/up.js';
import type { ReporterName } from '../conformance/report.js';
import { ExitCode, LabStateError, UsageError } from '../errors.js';
import { describeDiff } from '../plan/diff.js';
import type { Runtime } from '../runtime/runtime.js';
import { observeLab } from '../state/observe.js';
import { count } from '../text.js';
import { type CommandContext, type Io, loadFor } from './context.js';
import { publish, reporterOf } from './publish.js';
import { renderStatus, statusJson } from './status.js';

export type { PhaseTimings } from '../apply/run.js';

export interface UpOptions {
  file?: string;
  /** Print what up would do (the diff for a running lab) and do nothing. */
  dryRun?: boolean;
  retain?: boolean;
  json?: boolean;
  /** Run the conformance checks once the lab is up (for CI one-liners). */
  test?: boolean;
  /** Overrides every container's imagePullPolicy: always, missing or never. */
  pull?: string;
  /** With --test: the reporter and the file of the report, as lab test takes them. */
  reporter?: string;
  output?: string;
  /** For the benchmark: wraps the actions (to attribute engine calls to phases), receives the timings. */
  instrument?: { actions(actions: Action[]): Action[]; timings(timings: PhaseTimings): void };
}

export { lockWaitMs } from '../api/lab.js';

/**
 * `lab up`: the flags, the lab's lock, signals and printing; the work is apply/up.ts. One `up` of a lab
 * at a time: a second waits for the first, then finds the lab up. SIGINT, SIGTERM and
 * `lab down --force` stop it, and it rolls back.
 */
export default async function up(ctx: CommandContext, options: UpOptions): Promise<number> {
  const pull = pullMode(options.pull);
  const reporter = reporterOf(options.reporter); // a wrong name fails now, before anything is created
  if (!options.test && (options.reporter || options.output))
    throw new UsageError(
      '--reporter and --output go with --test',
      'lab up --test --reporter junit --output FILE',
    );
  const { topology } = await loadFor(ctx, options.file);
  const runtime = ctx.runtime();
  if (options.dryRun) {
    if (options.test) throw new UsageError('--dry-run creates nothing to test', 'drop --test, or --dry-run');
    const host = await upHost(ctx.host, runtime, ctx.io.err);
    const outcome = await upLab({ runtime, host, clock: ctx.clock, io: ctx.io }, topology, { dryRun: true });
    ctx.io.out(
      options.json
        ? JSON.stringify(previewJson(topology.name, outcome), null, 2)
        : renderPreview(topology.name, outcome),
    );
    return ExitCode.ok;
  }
  const abort = new AbortController();
  const stopOnSignal = onSignals(ctx.io, topology.name, abort);
  try {
    // The same path as the API's Lab.up, with the CLI's output and signals.
    const lab = await Lab.upTopology(
      topology,
      {
        io: ctx.io,
        signal: abort.signal,
        onInterrupt: () => {
          if (abort.signal.aborted) return;
          ctx.io.err(`\nlab down --force: stopping, and removing what this run created`);
          abort.abort();
        },
        ...(pull ? { pull } : {}),
        ...(options.retain ? { retain: true } : {}),
        ...(options.instrument ? { instrument: options.instrument } : {}),
      },
      { runtime, host: ctx.host, clock: ctx.clock },
    );
    const verified = lab.created ? new Map(lab.created.pods.map((p) => [p.key, p.ip])) : undefined;
    return await report(ctx, runtime, topology.name, options, reporter, verified);
  } finally {
    stopOnSignal();
  }
}

/** What `lab up --dry-run` prints. */
export function renderPreview(lab: string, outcome: UpOutcome): string {
  if (outcome.kind !== 'preview') return `lab ${lab}: ${outcome.kind}`;
  const { plan } = outcome;
  const size = `${count(plan.nodes.length, 'node')}, ${count(plan.pods.length - 1, 'pod')}, ${count(plan.services.length - 1, 'Service')} (node subnet ${plan.nodeSubnet})`;
  switch (outcome.action) {
    case 'nothing':
      return `lab ${lab} is up with this topology; lab up would do nothing`;
    case 'create':
      return `lab ${lab} is not up; lab up would create it: ${size}`;
    case 'recreate':
      return `lab ${lab} is stopped or left over (${outcome.why ?? ''}); lab up would remove it and create it: ${size}`;
    case 'change': {
      const { diff, from, to } = outcome.change!;
      const lines = describeDiff(diff, from, to);
      return lines.length
        ? `lab up would change lab ${lab} in place:\n${lines.map((l) => `  ${l}`).join('\n')}`
        : `lab up would record the new topology of lab ${lab}; nothing that runs changes`;
    }
  }
}

/** What `lab up --dry-run --json` prints. */
export function previewJson(lab: string, outcome: UpOutcome): Record<string, unknown> {
  if (outcome.kind !== 'preview') return { lab, action: outcome.kind };
  const change = outcome.change;
  return {
    lab,
    action: outcome.action,
    ...(change
      ? {
          changes: { ...change.diff, refused: undefined },
          lines: describeDiff(change.diff, change.from, change.to),
        }
      : {
          nodes: outcome.plan.nodes.length,
          pods: outcome.plan.pods.length - 1,
          nodeSubnet: outcome.plan.nodeSubnet,
        }),
  };
}

/** `--pull`'s value, checked. */
function pullMode(value: string | undefined): PullMode | undefined {
  if (value === undefined) return undefined;
  if (value === 'always' || value === 'missing' || value === 'never') return value;
  throw new UsageError(`--pull ${value}: not a pull mode`, 'use --pull always, missing or never');
}

/**
 * Prints the lab, and with --test the report through `reporter`; `verified`: pod addresses the ready
 * step has just checked inside the nodes.
 */
async function report(
  ctx: CommandContext,
  runtime: Runtime,
  name: string,
  options: UpOptions,
  reporter: ReporterName,
  verified?: Map<string, string>,
): Promise<number> {
  const state = await observeLab(runtime, name, verified ? { podIPs: verified } : {});
  if (!state) throw new LabStateError(`lab ${name} vanished right after up`);
  if (!options.test) {
    if (options.json) ctx.io.out(JSON.stringify(statusJson(state), null, 2));
    else {
      ctx.io.out(renderStatus(state));
      ctx.io.out(`\nnext: lab status ${name} · lab exec NS/POD -- CMD · lab test ${name} · lab down ${name}`);
    }
    return ExitCode.ok;
  }
  const { conformanceRun } = await import('../conformance/conformance.js');
  const { renderJson, verdictCode } = await import('../conformance/report.js');
  const run = await conformanceRun(
    { runtime, host: ctx.host, clock: ctx.clock },
    name,
    undefined,
    ctx.io.err,
  );
  if (options.json) {
    // One document for a script: the lab's status and the test report together.
    const test = JSON.parse(renderJson(name, run.results, run.timings)) as unknown;
    ctx.io.out(JSON.stringify({ status: statusJson(state), test }, null, 2));
    if (options.output)
      await publish(ctx, { reporter, output: options.output }, name, run.results, run.timings);
  } else {
    ctx.io.out(renderStatus(state));
    ctx.io.out('');
    await publish(ctx, { reporter, output: options.output }, name, run.results, run.timings);
  }
  return verdictCode(run.results);
}

/**
 * First SIGINT/SIGTERM: stop waiting for the running step and roll back; a second one exits at once,
 * saying how to clean up.
 */
export function onSignals(io: Io, lab: string, abort: AbortController): () => void {
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

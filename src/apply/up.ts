import type { Clock } from '../clock.js';
import type { Topology } from '../config/types.js';
import {
  EngineUnreachableError,
  InterruptedError,
  LabStateError,
  messageOf,
  RuntimeError,
  SubnetTakenError,
} from '../errors.js';
import { neighbourLimit, neighbourWarning } from '../host/doctor.js';
import type { Host } from '../host/host.js';
import type { Io } from '../io.js';
import { describeDiff, diffPlans, type LabDiff } from '../plan/diff.js';
import type { ContainerSpec, LabPlan } from '../plan/types.js';
import type { Runtime } from '../runtime/runtime.js';
import { type LabState, observeLab } from '../state/observe.js';
import { count } from '../text.js';
import { type Action, type PullMode, upActions, userImages } from './actions.js';
import { applyChange } from './change.js';
import { decideExisting } from './decide.js';
import { refuseTakenHostPorts } from './host-ports.js';
import { planChange, planFor } from './prepare.js';
import { removeLab } from './remove.js';
import { applyPlan, type PhaseTimings } from './run.js';
import { prepareEngines } from './swarm.js';

/** What `upLab` works with, all injected. */
export interface UpDeps {
  runtime: Runtime;
  host: Host;
  clock: Clock;
  /** Progress (listr2) and notes go to `io.err`. */
  io: Io;
}

export interface UpRun {
  /** Keep what was created when up fails. */
  retain?: boolean;
  /** Aborted on SIGINT/SIGTERM or `lab down --force`: stop and roll back. */
  signal?: AbortSignal;
  /** Overrides every container's imagePullPolicy. */
  pull?: PullMode;
  /** For the benchmark: wraps the actions (to attribute engine calls to phases), receives the timings. */
  instrument?: { actions(actions: Action[]): Action[]; timings(timings: PhaseTimings): void };
  /** Decide and plan only (`lab up --dry-run`): nothing is created, changed or removed. */
  dryRun?: boolean;
}

/**
 * What `upLab` did: found the lab up to date, created it from `plan`, or changed it in place; with
 * `dryRun`, what it would do (`preview`).
 */
export type UpOutcome =
  | { kind: 'up-to-date' }
  | { kind: 'created'; plan: LabPlan }
  | { kind: 'changed'; plan: LabPlan; diff: LabDiff; from: LabPlan }
  | {
      kind: 'preview';
      action: 'nothing' | 'create' | 'recreate' | 'change';
      plan: LabPlan;
      change?: PlannedChange;
      why?: string;
    };

/** A change in place, planned: both plans, the diff and the diff back (for a rollback). */
export interface PlannedChange {
  from: LabPlan;
  to: LabPlan;
  diff: LabDiff;
  back: LabDiff;
  generation: number;
}

/** How often `up` picks another node subnet when concurrent labs keep taking the one it picked. */
const subnetAttempts = 5;
/** How long a rollback waits for steps that a signal interrupted to settle. */
const settleMs = 30_000;

/**
 * Brings a lab up: decides what to do about what exists (decide.ts), plans, applies the actions; on
 * failure removes what this run created unless `retain`. The caller holds the lab's lock.
 */
export async function upLab(deps: UpDeps, topology: Topology, run: UpRun = {}): Promise<UpOutcome> {
  const { runtime, host, io } = deps;
  await prepareEngines(runtime, topology);
  const existing = await observeLab(runtime, topology.name);
  let plan = await planFor(topology, host, runtime);
  const decision = decideExisting(existing, plan);
  if (run.dryRun && decision.kind !== 'different' && decision.kind !== 'damaged') {
    const action = {
      'up-to-date': 'nothing',
      none: 'create',
      stopped: 'recreate',
      leftovers: 'recreate',
    } as const;
    return {
      kind: 'preview',
      action: action[decision.kind],
      plan,
      ...('what' in decision ? { why: decision.what } : {}),
    };
  }
  switch (decision.kind) {
    case 'up-to-date':
      io.err(`lab ${topology.name} is already up; nothing to do`);
      return { kind: 'up-to-date' };
    case 'different': {
      const change = await planInPlace(deps, existing!, topology);
      if (run.dryRun) return { kind: 'preview', action: 'change', plan: change.to, change };
      if (change.diff.publisher) await refuseTakenHostPorts(runtime, host, change.to);
      const lines = describeDiff(change.diff, change.from, change.to);
      io.err(
        `lab ${topology.name} is up with another topology; changing it in place:\n${lines.map((l) => `  ${l}`).join('\n') || '  (nothing that runs changes; the new topology is recorded)'}`,
      );
      const timings = await applyChange({ runtime, io, clock: deps.clock }, change, {
        ...(run.signal ? { signal: run.signal } : {}),
        ...(run.pull ? { pull: run.pull } : {}),
        ...(run.instrument ? { instrument: run.instrument } : {}),
      });
      run.instrument?.timings(timings);
      return { kind: 'changed', plan: change.to, diff: change.diff, from: change.from };
    }
    case 'damaged':
      throw new LabStateError(
        `lab ${topology.name} is up, but ${decision.problem}`,
        `remove it with lab down ${topology.name}, then run lab up again`,
      );
    case 'stopped':
      io.err(
        `lab ${topology.name} is stopped (${decision.what}, none running, as after an engine restart); removing it and building it again`,
      );
      await removeLab(runtime, topology.name, deps.clock);
      break;
    case 'leftovers':
      io.err(
        `found leftovers of an earlier, unfinished run of lab ${topology.name} (${decision.what}); removing them first`,
      );
      await removeLab(runtime, topology.name, deps.clock);
      break;
    case 'none':
      break;
  }

  await refuseMissingImages(runtime, plan, run.pull);
  await refuseTakenHostPorts(runtime, host, plan);
  const crowded = neighbourWarning(plan, await neighbourLimit(host));
  if (crowded) io.err(`warning: ${crowded.message}\n  → ${crowded.fix}`);

  const inflight: Promise<unknown>[] = [];
  const refused: string[] = [];
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        const actions = run.instrument?.actions(upActions()) ?? upActions();
        const timings = await applyPlan(runtime, plan, io, {
          ...(run.signal ? { signal: run.signal } : {}),
          inflight,
          actions,
          clock: deps.clock,
          ...(run.pull ? { pull: run.pull } : {}),
        });
        // Not inside `instrument?.timings(…)`: an optional call skips evaluating its arguments.
        run.instrument?.timings(timings);
        return { kind: 'created', plan };
      } catch (error) {
        // Another lab took the subnet between planning and creating: plan again with a fresh one.
        if (!(error instanceof SubnetTakenError) || topology.cluster.nodeSubnet || attempt >= subnetAttempts)
          throw error;
        io.err(`node subnet ${plan.nodeSubnet} was taken meanwhile by another lab; picking another`);
        refused.push(plan.nodeSubnet);
        await removeLab(runtime, topology.name, deps.clock);
        plan = await planFor(topology, host, runtime, refused);
      }
    }
  } catch (error) {
    const lost = await rollback(deps, topology.name, run.retain === true, inflight, error);
    // While it shuts down, an engine answers some calls and not others: any sign that it went away counts.
    const gone =
      error instanceof InterruptedError
        ? undefined
        : error instanceof EngineUnreachableError
          ? error.message
          : (lost ?? (await engineGone(runtime, deps.clock, error)));
    if (gone) {
      throw new RuntimeError(
        `the Docker engine went away during lab up: ${gone}${error instanceof EngineUnreachableError ? '' : `\n  its last answer: ${messageOf(error)}`}`,
        `start it again, then remove what is left with: lab down ${topology.name} (or run lab up again: it clears the leftovers first)`,
        { cause: error },
      );
    }
    throw error;
  }
}

/**
 * Plans a change in place of a running lab, or refuses it: a lab someone else made, a lab that is not
 * healthy, or a change of a field that a running lab cannot change (naming each, and `lab down` first).
 */
export async function planInPlace(
  { host }: Pick<UpDeps, 'host'>,
  existing: LabState,
  topology: Topology,
): Promise<PlannedChange> {
  const lab = topology.name;
  const me = host.owner();
  if (existing.owner && existing.owner !== me)
    throw new LabStateError(
      `lab ${lab} is up with another topology, and it was made by ${existing.owner}: lab up changes only your own labs`,
      `ask ${existing.owner}, or give your lab another name`,
    );
  const { recorded, plan } = existing;
  if (!recorded?.ok || !plan)
    throw new LabStateError(
      `lab ${lab} is up with another topology, and its recorded topology cannot be read`,
      `run lab down ${lab} first, then lab up`,
    );
  if (existing.problems.length > 0)
    throw new LabStateError(
      `lab ${lab} is up with another topology, but it is not healthy, so it cannot be changed in place: ${existing.problems.slice(0, 3).join('; ')}${existing.problems.length > 3 ? '; …' : ''}`,
      `run lab down ${lab} first, then lab up (or lab status ${lab} to see what is wrong)`,
    );
  const { from, to } = await planChange({ ...existing, plan, recorded }, topology, host);
  const diff = diffPlans(from, to);
  if (diff.refused.length > 0)
    throw new LabStateError(
      `lab ${lab} is up, and a running lab cannot change ${diff.refused.length === 1 ? 'this field' : 'these fields'}: ${diff.refused.map((r) => `${r.field} (${r.from} → ${r.to})`).join(', ')}`,
      `run lab down ${lab} first, then lab up (everything is created again); or keep ${diff.refused.length === 1 ? 'it' : 'them'} as the running lab has ${diff.refused.length === 1 ? 'it' : 'them'}`,
    );
  return { from, to, diff, back: diffPlans(to, from), generation: existing.generation };
}

/**
 * Refuses, before anything is created, a lab whose images may not be fetched and are not in the
 * engine (imagePullPolicy Never, or --pull never: an air-gapped run), naming each and how to get it.
 */
export async function refuseMissingImages(
  runtime: Runtime,
  plan: LabPlan,
  pull: PullMode | undefined,
  containers?: ContainerSpec[],
): Promise<void> {
  const missing: string[] = [];
  for (const { ref, policy } of userImages(plan, pull, containers))
    if (policy === 'Never' && !(await runtime.hasImage(ref))) missing.push(ref);
  if (missing.length)
    throw new LabStateError(
      `${count(missing.length, 'image')} not in the engine, and ${pull === 'never' ? '--pull never' : 'imagePullPolicy: Never'} forbids fetching ${missing.length === 1 ? 'it' : 'them'}: ${missing.join(', ')}`,
      `build or load ${missing.length === 1 ? 'it' : 'each'} into the engine first: docker build -t ${missing[0]} DIR, or docker load -i FILE`,
    );
}

/**
 * Removes what a failed or interrupted `up` created, unless `retain`. Steps still running when a
 * signal came (container creates) may add containers after the first removal, so once they settle
 * the removal runs again. A cleanup error is reported, never thrown over the original one; returns
 * why the engine could not be reached when that is what stopped the cleanup.
 */
async function rollback(
  { runtime, io, clock }: UpDeps,
  lab: string,
  retain: boolean,
  inflight: Promise<unknown>[],
  error: unknown,
): Promise<string | undefined> {
  const interrupted = error instanceof InterruptedError;
  if (retain) {
    io.err(
      `up ${interrupted ? 'interrupted' : 'failed'}; kept what it created (--retain). Remove it with: lab down ${lab}`,
    );
    return undefined;
  }
  io.err(`up ${interrupted ? 'interrupted' : 'failed'}; removing what it created (keep it with --retain)`);
  try {
    await removeLab(runtime, lab, clock);
    const giveUp = new AbortController();
    const settled = await Promise.race([
      Promise.allSettled(inflight).then(() => true),
      clock.sleep(settleMs, giveUp.signal).then(() => false),
    ]);
    giveUp.abort();
    await removeLab(runtime, lab, clock);
    if (!settled)
      io.err(
        `a step was still running after ${settleMs / 1000} s; if anything is left, run: lab down ${lab}`,
      );
  } catch (cleanup) {
    const gone =
      cleanup instanceof EngineUnreachableError ? cleanup.message : await engineGone(runtime, clock, cleanup);
    if (gone) {
      io.err('cleanup stopped: the Docker engine went away; what is left stays until it is back');
      return gone;
    }
    io.err(`cleanup failed too (${messageOf(cleanup)}); run: lab down ${lab}`);
  }
  return undefined;
}

/**
 * What an engine says while it shuts down: its stores and its link to containerd close before it
 * stops answering.
 */
const shuttingDown =
  /failed to update store for object type|client connection is closing|daemon is shutting down/;

/** How long an engine that said it is shutting down is given to stop answering. */
const shutdownMs = 60_000;

/**
 * Why the engine cannot be reached now; undefined when it answers (even with an error). After an
 * error that says the engine is shutting down, it is asked again until it stops answering (a minute
 * at most), so that the error names the engine, not what it said on its way out.
 */
async function engineGone(runtime: Runtime, clock: Clock, after?: unknown): Promise<string | undefined> {
  const said = (e: unknown): boolean =>
    e instanceof Error && (shuttingDown.test(e.message) || said((e as { cause?: unknown }).cause));
  const deadline = clock.now() + (said(after) ? shutdownMs : 0);
  for (;;) {
    try {
      await runtime.version();
    } catch (error) {
      if (error instanceof EngineUnreachableError) return error.message;
    }
    if (clock.now() >= deadline) return undefined;
    await clock.sleep(250);
  }
}

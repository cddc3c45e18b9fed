import type { Clock } from '../clock.js';
import { LabStateError, messageOf, UsageError } from '../errors.js';
import { neighbourLimit, neighbourWarning, nodeImageIn } from '../host/doctor.js';
import { engineSide } from '../host/engine-side.js';
import type { Host } from '../host/host.js';
import type { Runtime } from '../runtime/runtime.js';
import { observeLab } from '../state/observe.js';
import { type CheckResult, checks, runChecks } from './checks.js';
import { Outside } from './outside.js';
import { type Listeners, Probes, serveProbes } from './probes.js';
import type { RunTimings } from './report.js';

/** What the conformance engine works with, all injected. */
export interface ConformanceDeps {
  runtime: Runtime;
  host: Host;
  clock: Clock;
}

/** Runs the conformance checks (all, or the ids in `only`) against a running lab. */
export async function conformance(
  deps: ConformanceDeps,
  lab: string,
  only?: string[],
  warn: (text: string) => void = () => {},
): Promise<CheckResult[]> {
  return (await conformanceRun(deps, lab, only, warn)).results;
}

/** A run of the checks: their results and how long each part of the run took. */
export interface ConformanceRun {
  results: CheckResult[];
  timings: RunTimings;
}

/**
 * Runs the checks and times the parts of the run: the listeners coming up, the checks (each
 * check's own time is in its result), the failed probes asked again before they count, and the
 * listeners stopping.
 */
export async function conformanceRun(
  deps: ConformanceDeps,
  lab: string,
  only?: string[],
  warn: (text: string) => void = () => {},
  options: { exhaustive?: boolean } = {},
): Promise<ConformanceRun> {
  const unknown = (only ?? []).filter((id) => !checks.some((c) => c.id === id));
  if (unknown.length) {
    throw new UsageError(
      `unknown check ${unknown.join(', ')}`,
      `checks are: ${checks.map((c) => c.id).join(', ')}`,
    );
  }
  const { runtime, clock } = deps;
  const timings: RunTimings = {};
  // The listeners start as soon as the nodes are known, and say what pods each node has (one exec per node for both).
  let serving: Listeners | undefined;
  const listenersStarted = clock.now();
  const stopServing = async () => {
    await serving?.stop().catch(() => {});
  };
  const observed = await observeLab(runtime, lab, {
    podsOf: async (nodes) => {
      serving = await serveProbes(runtime, nodes);
      timings.listeners = Math.round(clock.now() - listenersStarted);
      return serving.pods;
    },
  }).catch(async (error: unknown) => {
    await stopServing();
    throw error;
  });
  if (!observed) {
    await stopServing();
    throw new LabStateError(`lab ${lab} is not up`, 'start it with lab up');
  }
  const state = observed;
  let crowded: ReturnType<typeof neighbourWarning>;
  try {
    const host = await engineSide(deps.host, runtime, async () => state.plan?.image ?? nodeImageIn(runtime));
    crowded = neighbourWarning(state, await neighbourLimit(host).catch(() => undefined));
  } catch (error) {
    await stopServing();
    throw error;
  }
  if (crowded)
    warn(`warning: ${crowded.message}; a check that fails so may be this, not the lab\n  → ${crowded.fix}`);
  const probes = new Probes(runtime, state, clock);
  const outside = new Outside(runtime, state);
  const engineHost = new Outside(runtime, state, 'engine-host');
  const time = async <T>(part: string, work: () => Promise<T>): Promise<T> => {
    const started = clock.now();
    try {
      return await work();
    } finally {
      timings[part] = Math.round(clock.now() - started);
    }
  };
  const listeners = serving ?? (await time('listeners', () => probes.serve()));
  let results: CheckResult[];
  try {
    // network-policy runs on a lab that has policies (or when asked for by name).
    const policies = state.plan?.policy.policies.length ?? 0;
    const selected = only?.length
      ? checks.filter((c) => only.includes(c.id))
      : checks.filter((c) => c.id !== 'network-policy' || policies > 0);
    results = await time('checks', () =>
      runChecks(
        {
          runtime,
          state,
          probes,
          outside,
          engineHost,
          clock,
          ...(options.exhaustive ? { exhaustive: true } : {}),
        },
        selected,
      ),
    );
  } finally {
    for (const client of [outside, engineHost])
      await client.stop().catch((error: unknown) => warn(`warning: ${messageOf(error)}`));
    // The verdict stands whatever stopping the listeners says; a listener left over is stopped by
    // the next run's probe-serve.
    await time('stop', () =>
      listeners.stop().catch((error: unknown) => warn(`warning: ${messageOf(error)}`)),
    );
  }
  timings.confirm = probes.confirmMs;
  timings.confirmedProbes = probes.confirmedProbes;
  return { results, timings };
}

/** `listeners 1.2 s · checks 10.5 s (longest pod-to-pod-no-nat 8.1 s) · …`: where a run's time went. */
export function describeTimings(run: ConformanceRun): string {
  const s = (ms: number | undefined) => `${((ms ?? 0) / 1000).toFixed(1)} s`;
  const longest = [...run.results].sort((a, b) => b.durationMs - a.durationMs)[0];
  const t = run.timings;
  return [
    `listeners up ${s(t.listeners)}`,
    `checks ${s(t.checks)}${longest ? ` (longest ${longest.id} ${s(longest.durationMs)})` : ''}`,
    `failed probes asked again: ${t.confirmedProbes ?? 0}, ${s(t.confirm)}`,
    `listeners stopped ${s(t.stop)}`,
  ].join(' · ');
}

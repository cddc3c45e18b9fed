import type { Clock } from '../clock.js';
import { LabStateError, UsageError } from '../errors.js';
import { neighbourLimit, neighbourWarning } from '../host/doctor.js';
import type { Host } from '../host/host.js';
import type { Runtime } from '../runtime/runtime.js';
import { observeLab } from '../state/observe.js';
import { type CheckResult, checks, runChecks } from './checks.js';
import { Probes } from './probes.js';

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
  const unknown = (only ?? []).filter((id) => !checks.some((c) => c.id === id));
  if (unknown.length) {
    throw new UsageError(
      `unknown check ${unknown.join(', ')}`,
      `checks are: ${checks.map((c) => c.id).join(', ')}`,
    );
  }
  const { runtime } = deps;
  const state = await observeLab(runtime, lab);
  if (!state) throw new LabStateError(`lab ${lab} is not up`, 'start it with lab up');
  const crowded = neighbourWarning(state, await neighbourLimit(deps.host));
  if (crowded)
    warn(`warning: ${crowded.message}; a check that fails so may be this, not the lab\n  → ${crowded.fix}`);
  const probes = new Probes(runtime, state);
  await probes.serve();
  const selected = only?.length ? checks.filter((c) => only.includes(c.id)) : checks;
  return runChecks({ runtime, state, probes, fetchFromHost, clock: deps.clock }, selected);
}

/** Fetches a URL from the lab's host with a short timeout; used for NodePorts only (node IPs). */
export async function fetchFromHost(url: string): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.text();
}

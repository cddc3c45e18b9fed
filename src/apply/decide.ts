import type { LabPlan } from '../plan/types.js';
import type { LabState } from '../state/observe.js';
import { count } from '../text.js';

/** What `up` finds when it looks at the engine before creating anything. */
export type Existing =
  /** Nothing of the lab exists: create it. */
  | { kind: 'none' }
  /** The lab runs, complete and healthy, with this topology: nothing to do. */
  | { kind: 'up-to-date' }
  /** The lab runs with another topology: refuse. */
  | { kind: 'different' }
  /** The lab's recorded topology cannot be trusted: refuse, naming the problem. */
  | { kind: 'damaged'; problem: string }
  /** Every container is stopped (as after an engine restart): remove and rebuild. */
  | { kind: 'stopped'; what: string }
  /** An earlier run did not finish: remove what it left and build. */
  | { kind: 'leftovers'; what: string };

/** Containers a complete lab has: nodes, sandboxes, pod containers and the publisher of host ports. */
export function expectedContainers(plan: LabPlan): number {
  return (
    plan.nodes.length +
    plan.pods.length +
    plan.pods.reduce((n, p) => n + p.containers.length, 0) +
    (plan.publisher ? 1 : 0)
  );
}

/**
 * Decides what `up` does about what the engine holds of the lab (pure). The lab's identity is the
 * hash of its recorded topology under the current scheme, so a file that differs only in key order,
 * formatting or restated defaults is the same lab, and so is a lab recorded by an older podlab.
 */
export function decideExisting(existing: LabState | undefined, plan: LabPlan): Existing {
  if (!existing) return { kind: 'none' };
  const { recorded } = existing;
  if (recorded && !recorded.ok) return { kind: 'damaged', problem: recorded.problem };
  if (recorded?.ok && recorded.hash !== plan.topologyHash) return { kind: 'different' };
  if (existing.problems.length === 0 && existing.containers.length === expectedContainers(plan))
    return { kind: 'up-to-date' };
  const what = `${count(existing.containers.length, 'container')}${existing.network ? ' and its network' : ''}`;
  return existing.containers.length > 0 && existing.containers.every((c) => c.state !== 'running')
    ? { kind: 'stopped', what }
    : { kind: 'leftovers', what };
}

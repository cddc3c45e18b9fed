/** Label keys on every Docker object a lab creates; a lab owns exactly what carries its `lab` label. */
export const Label = {
  lab: 'io.podlab.lab',
  role: 'io.podlab.role',
  node: 'io.podlab.node',
  pod: 'io.podlab.pod',
  container: 'io.podlab.container',
  topologyHash: 'io.podlab.topology-hash',
  /** How the topology hash was computed (config/canonical.ts); absent on labs of scheme 1. */
  topologyScheme: 'io.podlab.topology-scheme',
  podCIDR: 'io.podlab.pod-cidr',
  podLabels: 'io.podlab.pod-labels',
  nodeSubnet: 'io.podlab.node-subnet',
  topology: 'io.podlab.topology',
  image: 'io.podlab.image',
  /** Who made the lab: `user@host` (labs of many students on one engine). */
  owner: 'io.podlab.owner',
  /** On a record container: what the lab was given (plan/allocation.ts), as JSON. */
  allocation: 'io.podlab.allocation',
  /** On a record container: the check of the allocation label (plan/allocation.ts, allocationHash). */
  allocationHash: 'io.podlab.allocation-hash',
  /** On a record container: how many changes were applied in place; the highest record is the lab's. */
  generation: 'io.podlab.generation',
  /** On the publisher: the ports it publishes (plan/publish.ts), as JSON. */
  published: 'io.podlab.published',
  /** On a container of a lab that spans engines: the engine (its name in the topology) it runs on. */
  engine: 'io.podlab.engine',
  /** On every object of a lab that spans engines: its engines (name, host), as JSON, so any command finds them all. */
  engines: 'io.podlab.engines',
} as const;

/**
 * What a labelled container is to the lab. A `record` container is never started: its labels hold the
 * topology of a lab changed in place (labels cannot be changed, so each change makes a new one). A
 * `helper` is short-lived (the outside client of `lab test`): it is no part of the lab's state.
 */
export type Role = 'node' | 'sandbox' | 'container' | 'publisher' | 'record' | 'helper';

/** Filter for everything that belongs to one lab (or to any lab when `lab` is omitted). */
export function labFilter(lab?: string): Record<string, string> {
  return lab === undefined ? { [Label.lab]: '' } : { [Label.lab]: lab };
}

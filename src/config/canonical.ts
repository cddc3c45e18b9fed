import { createHash } from 'node:crypto';
import { defaults, type Topology } from './types.js';

/**
 * The canonical form of a topology: what makes two labs the same lab, whatever the file's key order,
 * formatting or restated defaults.
 *
 * Scheme 2 (this file): defaults filled (validation does that), restated defaults normalised (an
 * `image` that names podlab's own image, a container `image` equal to its pod's), `exercises` left
 * out (they change no network), every field added to podlab/v1 after its first release left out
 * while it holds its default (see `addedFields`), keys sorted at every level, and the format
 * (`apiVersion`) inside. The hash is the first 16 hex digits of SHA-256 over
 * `podlab-topology/2\n` + that JSON. So an upgrade of podlab that adds a defaulted field changes no
 * running lab's hash: the hash covers what was written plus the defaults of the version that made it.
 *
 * Scheme 1 (podlab before this file) hashed the topology as written; labs recorded with it carry no
 * `io.podlab.topology-scheme` label and are recognised through `legacyTopologyHash`.
 */
export const hashScheme = 2;

/** A field added to podlab/v1 after its first release: where it sits and the default of a file without it. */
export interface AddedField {
  /** Keys from the topology's root; `*` stands for every item of a list. */
  path: string[];
  default: unknown;
  /** The podlab version that added it (for readers of this list). */
  since: string;
}

/**
 * Fields added to podlab/v1 since its first release. A new defaulted field goes here, so that labs made
 * before it keep their hash while it holds its default.
 */
export const addedFields: AddedField[] = [
  { path: ['pods', '*', 'restartPolicy'], default: 'Always', since: 'podlab 0.2' },
  { path: ['pods', '*', 'containers', '*', 'imagePullPolicy'], default: 'IfNotPresent', since: 'podlab 0.2' },
  { path: ['cni', 'backend'], default: 'host-gw', since: 'podlab 0.3' },
  { path: ['namespaces'], default: [], since: 'podlab 0.4' },
  { path: ['networkPolicies'], default: [], since: 'podlab 0.4' },
  { path: ['engines'], default: [], since: 'podlab 0.4' },
];

/** JSON with the keys of every object sorted: the same value always gives the same text. */
export function stableJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** The canonical form (see `hashScheme`), as a plain object with sorted keys. */
export function canonicalTopology(topology: Topology, added: AddedField[] = addedFields): unknown {
  const { exercises: _exercises, ...network } = structuredClone(topology);
  for (const pod of network.pods) {
    if (pod.image === defaults.image) delete pod.image;
    for (const c of pod.containers) {
      if (c.image === defaults.image && pod.image === undefined) delete c.image;
      else if (c.image !== undefined && c.image === pod.image) delete c.image;
    }
  }
  for (const field of added) dropDefault(network, field.path, field.default);
  return sortKeys(network);
}

/** Removes the value at `path` (with `*` over list items) wherever it equals `value`. */
function dropDefault(at: unknown, path: string[], value: unknown): void {
  const [head, ...rest] = path;
  if (head === undefined || at === null || typeof at !== 'object') return;
  if (head === '*') {
    if (Array.isArray(at)) for (const item of at) dropDefault(item, rest, value);
    return;
  }
  const object = at as Record<string, unknown>;
  if (rest.length === 0) {
    if (head in object && stableJson(object[head]) === stableJson(value)) delete object[head];
    return;
  }
  dropDefault(object[head], rest, value);
}

/** Hash of what makes two labs the same lab; `up` compares it to decide "already up" vs "different". */
export function topologyHash(topology: Topology, added: AddedField[] = addedFields): string {
  return createHash('sha256')
    .update(`podlab-topology/${hashScheme}\n${JSON.stringify(canonicalTopology(topology, added))}`)
    .digest('hex')
    .slice(0, 16);
}

/**
 * The hash scheme 1 gave a recorded topology: SHA-256 over the recorded JSON without `exercises`,
 * keys in the order they were written. Used only to check that a record of an older lab is intact.
 */
export function legacyTopologyHash(recordedJson: string): string {
  const { exercises: _exercises, ...network } = JSON.parse(recordedJson) as Record<string, unknown>;
  return createHash('sha256').update(JSON.stringify(network)).digest('hex').slice(0, 16);
}

/** What a lab records about its topology on its network: the whole topology, canonical key order. */
export function recordTopology(topology: Topology): string {
  return stableJson(topology);
}

import { hashScheme, legacyTopologyHash, topologyHash } from '../config/canonical.js';
import { parseTopology } from '../config/load.js';
import type { Topology } from '../config/types.js';
import { ConfigError, formatIssue } from '../errors.js';
import { Label } from '../labels.js';

/** The topology a lab recorded on its network at `up`, read back and validated like a file. */
export type Recorded =
  | {
      ok: true;
      topology: Topology;
      /** Its hash under the current scheme: what a file's plan is compared with. */
      hash: string;
    }
  | { ok: false; problem: string };

/**
 * Reads the topology recorded in the labels of a lab's network (or, once the lab was changed in place,
 * of its newest record container; `holder` names which); undefined when there is none. It is
 * validated as a file would be, and must match the hash recorded beside it (scheme 1 labs: their
 * own hash of the recorded text), so that a damaged or hand-edited label is reported, not trusted.
 */
export function readRecorded(labels: Record<string, string>, holder: string): Recorded | undefined {
  const text = labels[Label.topology];
  if (text === undefined) return undefined;
  const where = `label ${Label.topology} of ${holder}`;
  let topology: Topology;
  try {
    topology = parseTopology(text, where).topology;
  } catch (error) {
    const problems =
      error instanceof ConfigError
        ? error.issues
            .filter((i) => i.severity === 'error')
            .map((i) => formatIssue(i))
            .join('; ')
        : String(error);
    return { ok: false, problem: `the ${where} is not a valid topology: ${problems}` };
  }
  const hash = topologyHash(topology);
  const scheme = labels[Label.topologyScheme];
  const recordedHash = labels[Label.topologyHash];
  let intact: boolean;
  if (scheme === undefined) {
    try {
      intact = legacyTopologyHash(text) === recordedHash;
    } catch {
      intact = false;
    }
  } else intact = scheme === String(hashScheme) && hash === recordedHash;
  return intact
    ? { ok: true, topology, hash }
    : {
        ok: false,
        problem: `the ${where} does not match its hash ${recordedHash ?? '(none)'}${scheme && scheme !== String(hashScheme) ? ` (hash scheme ${scheme}; this podlab knows up to ${hashScheme})` : ''}`,
      };
}

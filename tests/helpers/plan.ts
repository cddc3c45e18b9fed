import { readFileSync } from 'node:fs';
import { parseTopology } from '../../src/config/load.js';
import { allocationOf } from '../../src/plan/allocation.js';
import { planLab } from '../../src/plan/plan.js';
import type { LabPlan } from '../../src/plan/types.js';

/** The CNI configuration template every node's config is rendered from, as shipped. */
export const cniTemplate = JSON.parse(readFileSync('templates/cni/bridge.conf.json', 'utf8')) as Record<
  string,
  unknown
>;

/**
 * The plan of a topology text on `nodeSubnet`, with podlab's image named `podlab-node:test`; with
 * `previous`, planned as a change of that running lab (what stays keeps its allocation).
 */
export function planOfText(text: string, nodeSubnet: string, previous?: LabPlan): LabPlan {
  return planLab(parseTopology(text, 'test.yaml').topology, {
    nodeSubnet,
    nodeImage: 'podlab-node:test',
    cniTemplate,
    ...(previous ? { previous: allocationOf(previous) } : {}),
  });
}

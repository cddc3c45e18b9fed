import { cidrProblem, overlaps, parseCidr } from '../net/ipv4.js';
import { count } from '../text.js';
import { allocateNodeRanges, type PodInstance, podCapacity, type RangeResult } from './allocate.js';
import type { Topology } from './types.js';
import type { ClusterFacts } from './validate-cluster.js';
import { checkName, dns1123Label, nameLimits, type Report, withinText } from './validate-names.js';

/** What the later topics need to know of the nodes. */
export interface NodeFacts {
  /** Node names and their index in `nodes:`. */
  nodeNames: Map<string, number>;
  /** Each node's pod range, when the cluster range is valid. */
  ranges: RangeResult[];
}

/** Node names, their pod range overrides and the ranges every node gets. */
export function checkNodes(topology: Topology, report: Report, { podOk }: ClusterFacts): NodeFacts {
  const { cluster } = topology;
  const nodeNames = new Map<string, number>();
  topology.nodes.forEach((node, i) => {
    checkName(
      report,
      ['nodes', i, 'name'],
      node.name,
      nameLimits.label,
      'node name (a hostname)',
      dns1123Label,
    );
    if (nodeNames.has(node.name))
      report(['nodes', i, 'name'], `duplicate node "${node.name}" (also nodes[${nodeNames.get(node.name)}])`);
    else nodeNames.set(node.name, i);
  });
  const overrideOk = topology.nodes.map((node, i) => {
    if (node.podCIDR === undefined) return true;
    const problem = cidrProblem(node.podCIDR);
    if (problem) {
      report(['nodes', i, 'podCIDR'], problem);
      return false;
    }
    if (podOk && !withinText(node.podCIDR, cluster.podCIDR)) {
      report(['nodes', i, 'podCIDR'], `${node.podCIDR} is not inside cluster.podCIDR ${cluster.podCIDR}`);
      return false;
    }
    if (parseCidr(node.podCIDR).bits > 30) {
      report(['nodes', i, 'podCIDR'], `${node.podCIDR} has no room for pods; use /30 or wider`);
      return false;
    }
    return true;
  });
  const nodeRangesValid = podOk && cluster.nodeMaskSize >= parseCidr(cluster.podCIDR).bits;
  // An invalid override is reported above; the rest are still allocated so that their clashes show too.
  const allocatable = topology.nodes.map((n, i) => (overrideOk[i] ? n : { name: n.name }));
  const ranges = nodeRangesValid ? allocateNodeRanges(cluster, allocatable) : [];
  ranges.forEach((r, i) => {
    if (!r.ok) report(['nodes', i], r.message);
  });
  for (let i = 0; i < ranges.length; i++) {
    for (let j = i + 1; j < ranges.length; j++) {
      const a = ranges[i]!;
      const b = ranges[j]!;
      if (a.ok && b.ok && overlaps(parseCidr(a.cidr), parseCidr(b.cidr))) {
        report(
          ['nodes', j, 'podCIDR'],
          `pod range ${b.cidr} of node "${topology.nodes[j]!.name}" overlaps ${a.cidr} of node "${topology.nodes[i]!.name}"`,
        );
      }
    }
  }
  return { nodeNames, ranges };
}

/** Each node's range holds its pods (and the DNS pod, which runs on the first node). */
export function checkNodeCapacity(
  topology: Topology,
  report: Report,
  { ranges }: NodeFacts,
  instances: PodInstance[],
): void {
  topology.nodes.forEach((node, i) => {
    const r = ranges[i];
    if (!r?.ok) return;
    const pods = instances.filter((p) => p.node === node.name).length + (i === 0 ? 1 : 0);
    const capacity = podCapacity(r.cidr);
    if (pods > capacity) {
      report(
        ['nodes', i],
        `node "${node.name}" runs ${count(pods, 'pod')} but its range ${r.cidr} holds ${capacity}; use a wider range (smaller cluster.nodeMaskSize or podCIDR)`,
      );
    }
  });
}

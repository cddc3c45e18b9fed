import { cidrProblem, formatCidr, overlaps, parseCidr, size, subnet } from '../net/ipv4.js';
import type { ClusterConfig, NodeConfig, PodConfig, Topology } from './types.js';

/** One pod as it runs: a template with replicas becomes `name-0`, `name-1`, … */
export interface PodInstance {
  namespace: string;
  name: string;
  node: string;
  /** Index of the template in `pods:` (for pointing at it in messages). */
  templateIndex: number;
  template: PodConfig;
}

/** Pod names a template yields: `name` alone, or `name-0…name-(n-1)` when `replicas` is set. */
export function instanceNames(pod: PodConfig): string[] {
  if (pod.replicas === undefined) return [pod.name];
  return Array.from({ length: pod.replicas }, (_, i) => `${pod.name}-${i}`);
}

/**
 * Expands replicas and places every pod on a node: pinned pods where they say, the others round-robin
 * over the nodes in file order, so that replicas land on different nodes (what a Service wants to show).
 */
export function expandPods(topology: Pick<Topology, 'nodes' | 'pods'>): PodInstance[] {
  const nodes = topology.nodes.map((n) => n.name);
  let next = 0;
  const out: PodInstance[] = [];
  topology.pods.forEach((template, templateIndex) => {
    for (const name of instanceNames(template)) {
      const node = template.node ?? nodes[next++ % nodes.length]!;
      out.push({ namespace: template.namespace, name, node, templateIndex, template });
    }
  });
  return out;
}

/** A node's pod range or why none could be given. */
export type RangeResult = { ok: true; cidr: string } | { ok: false; message: string };

/**
 * Gives each node its pod range: its own `podCIDR` when set, else the next free `/nodeMaskSize` of the
 * cluster range in node order, skipping blocks that an override already holds.
 * Expects valid CIDRs (validate.ts checks them first).
 */
export function allocateNodeRanges(cluster: ClusterConfig, nodes: NodeConfig[]): RangeResult[] {
  const parent = parseCidr(cluster.podCIDR);
  const overrides = nodes
    .map((n) => n.podCIDR)
    .filter((c): c is string => c !== undefined && cidrProblem(c) === undefined)
    .map(parseCidr);
  const blocks = size(parent) / size({ base: 0, bits: cluster.nodeMaskSize });
  let index = 0;
  return nodes.map((node): RangeResult => {
    if (node.podCIDR !== undefined) return { ok: true, cidr: node.podCIDR };
    while (index < blocks) {
      const candidate = subnet(parent, cluster.nodeMaskSize, index++);
      if (!overrides.some((o) => overlaps(o, candidate))) return { ok: true, cidr: formatCidr(candidate) };
    }
    return {
      ok: false,
      message: `no /${cluster.nodeMaskSize} left in ${cluster.podCIDR} for this node; widen cluster.podCIDR or raise cluster.nodeMaskSize`,
    };
  });
}

/** How many pods a node range holds: all addresses but network, gateway (the bridge) and broadcast. */
export function podCapacity(cidr: string): number {
  return Math.max(0, size(parseCidr(cidr)) - 3);
}

import {
  cidrProblem,
  formatCidr,
  formatIp,
  lastIp,
  overlaps,
  parseCidr,
  parseIp,
  size,
  subnet,
} from '../net/ipv4.js';
import {
  type ClusterConfig,
  type NodeConfig,
  nodePortRange,
  type PodConfig,
  type ServiceConfig,
  type Topology,
} from './types.js';
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

/** ClusterIPs by `namespace/name`, and the Services that found none left. */
export interface ClusterIPs {
  ips: Map<string, string>;
  unallocated: string[];
}

/**
 * ClusterIPs for every Service that needs one and names none: the lowest free addresses of the
 * Service range, in file order (the range's first address is kept free, as Kubernetes keeps it for
 * `kubernetes.default`), skipping the DNS address and every address a Service names. Expects a valid
 * serviceCIDR and addresses (validation checks them first).
 */
export function allocateClusterIPs(
  topology: Pick<Topology, 'cluster' | 'dns'>,
  services: ServiceConfig[],
): ClusterIPs {
  const range = parseCidr(topology.cluster.serviceCIDR);
  const taken = new Set<number>(
    services
      .map((s) => s.clusterIP)
      .filter((ip): ip is string => ip !== undefined && ip !== 'None')
      .map((ip) => parseIp(ip))
      .filter((ip): ip is number => ip !== undefined),
  );
  const dns = parseIp(topology.dns.clusterIP);
  if (dns !== undefined) taken.add(dns);
  const ips = new Map<string, string>();
  const unallocated: string[] = [];
  let next = range.base + 2;
  for (const s of services) {
    const key = `${s.namespace}/${s.name}`;
    if (s.type === 'ExternalName' || s.clusterIP === 'None') continue;
    if (s.clusterIP !== undefined) {
      ips.set(key, s.clusterIP);
      continue;
    }
    while (taken.has(next) && next < lastIp(range)) next++;
    if (next >= lastIp(range)) {
      unallocated.push(key);
      continue;
    }
    taken.add(next);
    ips.set(key, formatIp(next));
  }
  return { ips, unallocated };
}

/** NodePorts by `namespace/name:port/protocol`, and the ports that found none left (same form). */
export interface NodePorts {
  ports: Map<string, number>;
  unallocated: string[];
}

/** NodePorts for the ports of NodePort Services that name none: the lowest free ones of the range. */
export function allocateNodePorts(services: ServiceConfig[]): NodePorts {
  const taken = new Set(
    services.flatMap((s) => s.ports.map((p) => p.nodePort)).filter((p) => p !== undefined),
  );
  const ports = new Map<string, number>();
  const unallocated: string[] = [];
  let next = nodePortRange.min;
  for (const s of services) {
    if (s.type !== 'NodePort') continue;
    for (const p of s.ports) {
      if (p.nodePort !== undefined) continue;
      const key = `${s.namespace}/${s.name}:${p.port}/${p.protocol}`;
      while (taken.has(next)) next++;
      if (next > nodePortRange.max) {
        unallocated.push(key);
        continue;
      }
      taken.add(next);
      ports.set(key, next);
    }
  }
  return { ports, unallocated };
}

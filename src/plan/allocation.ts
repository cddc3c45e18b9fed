import { createHash } from 'node:crypto';
import type { LabPlan } from './types.js';

/**
 * What a lab was given rather than told: node addresses and pod ranges, where each pod runs and its
 * address, ClusterIPs and NodePorts. A running lab records it, so that a changed topology applied in
 * place leaves everything that stays where it is (plan.ts takes it as `previous`).
 */
export interface Allocation {
  nodes: Record<string, { ip: string; podCIDR: string }>;
  /** By `namespace/name`. */
  pods: Record<string, { node: string; ip: string }>;
  /** By Service `namespace/name`. */
  clusterIPs: Record<string, string>;
  /** By `namespace/name:port/protocol`. */
  nodePorts: Record<string, number>;
}

/** The key of a Service port in `Allocation.nodePorts`. */
export function nodePortKey(service: string, port: number, protocol: string): string {
  return `${service}:${port}/${protocol}`;
}

/** What a plan allocated. */
export function allocationOf(plan: LabPlan): Allocation {
  return {
    nodes: Object.fromEntries(plan.nodes.map((n) => [n.name, { ip: n.ip, podCIDR: n.podCIDR }])),
    pods: Object.fromEntries(plan.pods.map((p) => [p.key, { node: p.node, ip: p.ip }])),
    clusterIPs: Object.fromEntries(
      plan.services
        .filter((s) => s.clusterIP !== '' && s.clusterIP !== 'None')
        .map((s) => [s.key, s.clusterIP]),
    ),
    nodePorts: Object.fromEntries(
      plan.services.flatMap((s) =>
        s.ports.flatMap((p) =>
          p.nodePort === undefined ? [] : [[nodePortKey(s.key, p.port, p.protocol), p.nodePort]],
        ),
      ),
    ),
  };
}

/** Reads an allocation recorded as JSON; undefined when it is not one. */
export function parseAllocation(text: string | undefined): Allocation | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as Partial<Allocation>;
    const isRecord = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
    if (![value.nodes, value.pods, value.clusterIPs, value.nodePorts].every(isRecord)) return undefined;
    return value as Allocation;
  } catch {
    return undefined;
  }
}

/** The check recorded beside an allocation's JSON, so that a hand-edited record is reported, not trusted. */
export function allocationHash(json: string): string {
  return createHash('sha256').update(`podlab-allocation/1\n${json}`).digest('hex').slice(0, 16);
}

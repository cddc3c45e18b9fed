import { matches } from '../config/selector.js';
import type { ServiceConfig, Topology } from '../config/types.js';
import { nodePortRange } from '../config/validate-names.js';
import { PlanError } from '../errors.js';
import { formatIp, lastIp, parseCidr, parseIp } from '../net/ipv4.js';
import type { PodPlan, ServicePlan, ServicePortPlan } from './types.js';

/** The Service podlab adds for cluster DNS, as Kubernetes' kube-dns add-on does. */
export const dnsService = {
  namespace: 'kube-system',
  name: 'kube-dns',
  podName: 'kube-dns-0',
  app: 'kube-dns',
} as const;

/** The DNS Service as if it were in the topology: UDP and TCP 53 in front of the DNS pod. */
export function dnsServiceConfig(topology: Topology): ServiceConfig {
  return {
    name: dnsService.name,
    namespace: dnsService.namespace,
    type: 'ClusterIP',
    clusterIP: topology.dns.clusterIP,
    selector: { 'k8s-app': dnsService.app },
    ports: [
      { name: 'dns', port: 53, targetPort: 53, protocol: 'UDP' },
      { name: 'dns-tcp', port: 53, targetPort: 53, protocol: 'TCP' },
    ],
  };
}

/**
 * ClusterIPs for every Service that needs one and names none: the lowest free addresses of the
 * Service range, in file order (the range's first address is kept free, as Kubernetes keeps it for
 * `kubernetes.default`), skipping the DNS address and every address a Service names.
 */
export function allocateClusterIPs(topology: Topology, services: ServiceConfig[]): Map<string, string> {
  const range = parseCidr(topology.cluster.serviceCIDR);
  const taken = new Set<number>(
    services
      .map((s) => s.clusterIP)
      .filter((ip): ip is string => ip !== undefined && ip !== 'None')
      .map((ip) => parseIp(ip)!),
  );
  taken.add(parseIp(topology.dns.clusterIP)!);
  const out = new Map<string, string>();
  let next = range.base + 2;
  for (const s of services) {
    const key = `${s.namespace}/${s.name}`;
    if (s.type === 'ExternalName' || s.clusterIP === 'None') continue;
    if (s.clusterIP !== undefined) {
      out.set(key, s.clusterIP);
      continue;
    }
    while (taken.has(next) && next < lastIp(range)) next++;
    if (next >= lastIp(range))
      throw new PlanError(
        `no ClusterIP left in cluster.serviceCIDR ${topology.cluster.serviceCIDR} for Service ${key}`,
        'widen cluster.serviceCIDR',
      );
    taken.add(next);
    out.set(key, formatIp(next));
  }
  return out;
}

/**
 * Every Service with its address and, per port, the endpoints that serve it: the pods of its
 * namespace whose labels match the selector, at the target port (a number, or a container port name
 * resolved per pod; a pod without that name serves not that port).
 */
export function planServices(topology: Topology, pods: PodPlan[], services: ServiceConfig[]): ServicePlan[] {
  const ips = allocateClusterIPs(topology, services);
  const nodePorts = allocateNodePorts(services);
  return services.map((s): ServicePlan => {
    const key = `${s.namespace}/${s.name}`;
    const selected =
      s.type === 'ExternalName'
        ? []
        : pods.filter((p) => p.namespace === s.namespace && matches(s.selector, p.labels));
    const ports = s.ports.map(
      (port): ServicePortPlan => ({
        ...(port.name !== undefined ? { name: port.name } : {}),
        port: port.port,
        protocol: port.protocol,
        ...(s.type === 'NodePort'
          ? { nodePort: port.nodePort ?? nodePorts.get(`${key}:${port.port}/${port.protocol}`)! }
          : {}),
        targetPort: port.targetPort,
        endpoints: selected.flatMap((pod) => {
          const target = typeof port.targetPort === 'number' ? port.targetPort : pod.ports[port.targetPort];
          return target === undefined
            ? []
            : [{ pod: pod.key, hostname: pod.name, ip: pod.ip, node: pod.node, port: target }];
        }),
      }),
    );
    return {
      namespace: s.namespace,
      name: s.name,
      key,
      type: s.type,
      clusterIP: s.clusterIP === 'None' ? 'None' : (ips.get(key) ?? ''),
      ...(s.externalName !== undefined ? { externalName: s.externalName } : {}),
      selector: s.selector,
      ports,
      endpoints: selected.map((p) => ({ pod: p.key, hostname: p.name, ip: p.ip, node: p.node })),
    };
  });
}

/** NodePorts for the ports of NodePort Services that name none: the lowest free ones of the range. */
export function allocateNodePorts(services: ServiceConfig[]): Map<string, number> {
  const taken = new Set(
    services.flatMap((s) => s.ports.map((p) => p.nodePort)).filter((p) => p !== undefined),
  );
  const out = new Map<string, number>();
  let next = nodePortRange.min;
  for (const s of services) {
    if (s.type !== 'NodePort') continue;
    for (const p of s.ports) {
      if (p.nodePort !== undefined) continue;
      while (taken.has(next)) next++;
      if (next > nodePortRange.max)
        throw new PlanError(
          `no NodePort left in ${nodePortRange.min}–${nodePortRange.max} for Service ${s.namespace}/${s.name}`,
          'use fewer NodePort ports',
        );
      taken.add(next);
      out.set(`${s.namespace}/${s.name}:${p.port}/${p.protocol}`, next);
    }
  }
  return out;
}

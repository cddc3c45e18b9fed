import { allocateClusterIPs, allocateNodePorts } from '../config/allocate.js';
import { matches } from '../config/selector.js';
import { defaults, dnsService, type ServiceConfig, type Topology } from '../config/types.js';
import { PlanError } from '../errors.js';
import { type Allocation, nodePortKey } from './allocation.js';
import type { EndpointPlan, PodPlan, ServicePlan, ServicePortPlan } from './types.js';

export { dnsService } from '../config/types.js';

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
 * Every Service with its address and, per port, the endpoints that serve it: the pods of its
 * namespace whose labels match the selector, at the target port (a number, or a container port name
 * resolved per pod; a pod without that name serves not that port).
 */
export function planServices(
  topology: Topology,
  pods: PodPlan[],
  declared: ServiceConfig[],
  previous?: Allocation,
): ServicePlan[] {
  const services = previous ? keepAllocated(declared, previous) : declared;
  const ips = allocateClusterIPs(topology, services);
  const nodePorts = allocateNodePorts(services);
  // Validation reports these with their position; a topology that reaches the plan has none.
  const short = [
    ...ips.unallocated.map((k) => `a ClusterIP for ${k}`),
    ...nodePorts.unallocated.map((k) => `a NodePort for ${k}`),
  ];
  if (short.length)
    throw new PlanError(
      `no room for ${short.join(', ')}`,
      'run lab validate on the file: it names the Service and the range to widen',
    );
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
          ? { nodePort: port.nodePort ?? nodePorts.ports.get(`${key}:${port.port}/${port.protocol}`)! }
          : {}),
        ...(port.hostPort !== undefined
          ? { hostPort: port.hostPort, hostIP: port.hostIP ?? defaults.hostIP }
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
      clusterIP: s.clusterIP === 'None' ? 'None' : (ips.ips.get(key) ?? ''),
      ...(s.externalName !== undefined ? { externalName: s.externalName } : {}),
      selector: s.selector,
      ports,
      endpoints: serviceEndpoints(selected, ports),
    };
  });
}

/**
 * Services as if each named the ClusterIP and NodePorts it already has, so that only new ones get
 * fresh ones; an address or port that the file now gives another Service is not kept.
 */
function keepAllocated(services: ServiceConfig[], previous: Allocation): ServiceConfig[] {
  const namedIps = new Set(services.flatMap((s) => s.clusterIP ?? []));
  const namedPorts = new Set(services.flatMap((s) => s.ports.flatMap((p) => p.nodePort ?? [])));
  return services.map((s) => {
    const key = `${s.namespace}/${s.name}`;
    const ip = previous.clusterIPs[key];
    const keepIp = s.clusterIP === undefined && s.type !== 'ExternalName' && ip && !namedIps.has(ip);
    return {
      ...s,
      ...(keepIp ? { clusterIP: ip } : {}),
      ports: s.ports.map((p) => {
        const port = previous.nodePorts[nodePortKey(key, p.port, p.protocol)];
        return s.type === 'NodePort' && p.nodePort === undefined && port && !namedPorts.has(port)
          ? { ...p, nodePort: port }
          : p;
      }),
    };
  });
}

/**
 * A Service's endpoints, the one list that status, DNS and the checks use: the selected pods that
 * serve at least one of its ports, as kube-proxy's rules route to them (a pod that lacks a named
 * target port serves not that port); every selected pod when the Service has no ports (headless).
 */
export function serviceEndpoints(selected: PodPlan[], ports: ServicePortPlan[]): EndpointPlan[] {
  const serving = new Set(ports.flatMap((p) => p.endpoints.map((e) => e.pod)));
  return selected
    .filter((p) => ports.length === 0 || serving.has(p.key))
    .map((p) => ({ pod: p.key, hostname: p.name, ip: p.ip, node: p.node }));
}

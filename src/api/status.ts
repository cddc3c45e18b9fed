import type { LabState } from '../state/observe.js';

/** The `--json` shape of a lab; scripts rely on it, so fields are only ever added. */
export function statusJson(state: LabState) {
  return {
    name: state.name,
    up: true,
    nodeSubnet: state.nodeSubnet,
    healthy: state.problems.length === 0,
    problems: state.problems,
    nodes: state.nodes.map(({ name, ip, podCIDR, container, state: s, engine }) => ({
      name,
      ip,
      podCIDR,
      container,
      state: s,
      ...(engine ? { engine } : {}),
    })),
    pods: state.pods.map(({ namespace, name, node, ip, labels, containers, containerStates, state: s }) => ({
      namespace,
      name,
      node,
      ip,
      labels,
      containers,
      state: s,
      containerStates,
    })),
    services: state.services.map((s) => ({
      namespace: s.namespace,
      name: s.name,
      type: s.type,
      clusterIP: s.clusterIP,
      ...(s.externalName ? { externalName: s.externalName } : {}),
      selector: s.selector,
      ports: s.ports.map((p) => ({
        ...(p.name ? { name: p.name } : {}),
        port: p.port,
        protocol: p.protocol,
        targetPort: p.targetPort,
        ...(p.nodePort !== undefined ? { nodePort: p.nodePort } : {}),
        ...(p.hostPort !== undefined ? { hostIP: p.hostIP, hostPort: p.hostPort } : {}),
      })),
      endpoints: s.endpoints.map(({ pod, ip, node, ready }) => ({ pod, ip, node, ready })),
    })),
    networkPolicies: (state.plan?.policy.policies ?? []).map((p) => ({
      namespace: p.metadata.namespace,
      name: p.metadata.name,
      policyTypes: p.spec.policyTypes,
    })),
    dns: state.dns
      ? {
          clusterIP: state.dns.clusterIP,
          podIP: state.dns.podIP,
          node: state.dns.node,
          pod: state.dns.pod,
          ready: state.dns.ready,
        }
      : null,
  };
}

/** The `--json` document of a lab that does not exist: the same keys, nothing in them. */
export function notUpJson(name: string, problem: string) {
  return {
    name,
    up: false,
    nodeSubnet: '',
    healthy: false,
    problems: [problem],
    nodes: [],
    pods: [],
    services: [],
    networkPolicies: [],
    dns: null,
  };
}

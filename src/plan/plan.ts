import { createHash } from 'node:crypto';
import type { Topology } from '../config/types.js';
import { Label } from '../labels.js';
import { formatIp, hostAt, parseCidr } from '../net/ipv4.js';
import { allocateNodeRanges, expandPods } from './allocate.js';
import { cniConfigPath, names, nodeCapabilities, nodeImageName, podMarker } from './names.js';
import type { ContainerSpec, LabPlan, NodePlan, PodPlan } from './types.js';

/** What the plan needs besides the topology; each is decided by the caller, so the plan stays pure. */
export interface PlanInputs {
  /** The node subnet: `cluster.nodeSubnet`, or the free one the caller picked. */
  nodeSubnet: string;
  /** The node image reference (tag carries the hash of its build inputs). */
  nodeImage: string;
  /** The CNI configuration template (templates/cni/bridge.conf.json). */
  cniTemplate: Record<string, unknown>;
}

/** Hash of what makes two labs the same lab; `up` compares it to decide "already up" vs "different". */
export function topologyHash(topology: Topology): string {
  const { exercises: _exercises, ...network } = topology;
  return createHash('sha256').update(JSON.stringify(network)).digest('hex').slice(0, 16);
}

/** Computes every name, address, route, config and container spec of a lab. Pure. */
export function planLab(topology: Topology, inputs: PlanInputs): LabPlan {
  const lab = topology.name;
  const hash = topologyHash(topology);
  const subnet = parseCidr(inputs.nodeSubnet);
  const gateway = formatIp(hostAt(subnet, 1));
  const ranges = allocateNodeRanges(topology.cluster, topology.nodes).map((r) => {
    if (!r.ok) throw new Error(`plan: ${r.message}`);
    return r.cidr;
  });
  const common = (role: string): Record<string, string> => ({
    [Label.lab]: lab,
    [Label.role]: role,
    [Label.topologyHash]: hash,
  });

  const nodeBase = topology.nodes.map((node, i) => ({
    name: node.name,
    ip: formatIp(hostAt(subnet, 2 + i)),
    podCIDR: ranges[i]!,
  }));

  const nodes: NodePlan[] = nodeBase.map((node) => {
    const podGateway = formatIp(hostAt(parseCidr(node.podCIDR), 1));
    return {
      ...node,
      podGateway,
      container: {
        name: names.node(lab, node.name),
        image: inputs.nodeImage,
        hostname: node.name,
        labels: { ...common('node'), [Label.node]: node.name, [Label.podCIDR]: node.podCIDR },
        env: {},
        cmd: ['tini', '--', 'sleep', 'infinity'],
        network: { mode: 'bridge', network: names.network(lab), ip: node.ip },
        capAdd: [...nodeCapabilities],
        sysctls: { 'net.ipv4.ip_forward': '1' },
      },
      cniConfig: renderCniConfig(inputs.cniTemplate, topology, node.podCIDR, podGateway),
      routes: [
        ...nodeBase
          .filter((other) => other.name !== node.name)
          .map((other) => `route replace ${other.podCIDR} via ${other.ip}`),
        // Containment: a pod or Service address without a more specific route fails here, at once,
        // instead of following the default route out through the Docker host.
        `route replace unreachable ${topology.cluster.podCIDR}`,
        `route replace unreachable ${topology.cluster.serviceCIDR}`,
      ],
    };
  });

  const resolver = {
    servers: [topology.dns.clusterIP],
    options: ['ndots:5'],
  };
  const imageOf = (image: string | undefined): string =>
    image === undefined || image === nodeImageName ? inputs.nodeImage : image;

  const pods: PodPlan[] = expandPods(topology).map((instance): PodPlan => {
    const { namespace, name, template } = instance;
    const key = `${namespace}/${name}`;
    const nodeContainer = names.node(lab, instance.node);
    const sandboxName = names.sandbox(lab, namespace, name);
    const podLabels = {
      ...common('sandbox'),
      [Label.node]: instance.node,
      [Label.pod]: key,
      [Label.podLabels]: JSON.stringify(template.labels),
    };
    const sandbox: ContainerSpec = {
      name: sandboxName,
      image: inputs.nodeImage,
      hostname: name,
      labels: podLabels,
      env: { [podMarker]: key },
      cmd: ['sleep', 'infinity'],
      network: { mode: 'none' },
      pidContainer: nodeContainer,
      capAdd: [],
      sysctls: {},
      dns: {
        ...resolver,
        search: [
          `${namespace}.svc.${topology.cluster.domain}`,
          `svc.${topology.cluster.domain}`,
          topology.cluster.domain,
        ],
      },
    };
    const containers = template.containers.map(
      (c): ContainerSpec => ({
        name: names.container(lab, namespace, name, c.name),
        image: imageOf(c.image ?? template.image),
        labels: { ...podLabels, [Label.role]: 'container', [Label.container]: c.name },
        env: { ...c.env, PODLAB_POD_NAME: name, PODLAB_POD_NAMESPACE: namespace },
        cmd: c.command ?? ['sleep', 'infinity'],
        network: { mode: 'container', container: sandboxName },
        capAdd: [],
        sysctls: {},
      }),
    );
    return { namespace, name, key, node: instance.node, labels: template.labels, sandbox, containers };
  });

  return {
    name: lab,
    topologyHash: hash,
    image: inputs.nodeImage,
    domain: topology.cluster.domain,
    podCIDR: topology.cluster.podCIDR,
    serviceCIDR: topology.cluster.serviceCIDR,
    network: {
      name: names.network(lab),
      subnet: inputs.nodeSubnet,
      gateway,
      labels: {
        ...common('network'),
        [Label.nodeSubnet]: inputs.nodeSubnet,
        [Label.topology]: JSON.stringify(topology),
      },
    },
    nodes,
    pods,
  };
}

/** The node's CNI config: the template with this node's bridge, MTU and host-local range filled in. */
export function renderCniConfig(
  template: Record<string, unknown>,
  topology: Topology,
  podCIDR: string,
  gateway: string,
): Record<string, unknown> {
  const ipam = (template.ipam ?? {}) as Record<string, unknown>;
  return {
    ...template,
    name: `podlab-${topology.name}`,
    bridge: topology.cni.bridge,
    ...(topology.cni.mtu !== undefined ? { mtu: topology.cni.mtu } : {}),
    ipam: { ...ipam, ranges: [[{ subnet: podCIDR, gateway }]] },
  };
}

export { cniConfigPath };

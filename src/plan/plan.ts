import { allocateNodeRanges, expandPods, type PodInstance } from '../config/allocate.js';
import { hashScheme, recordTopology, topologyHash } from '../config/canonical.js';
import { engineLabel, engineOfNode, nodeNetworkMtu, spansEngines, usedEngines } from '../config/engines.js';
import type { Topology } from '../config/types.js';
import { PlanError } from '../errors.js';
import { Label } from '../labels.js';
import { formatCidr, formatIp, hostAt, parseCidr, subnet as subnetOf } from '../net/ipv4.js';
import type { Allocation } from './allocation.js';
import { dnsmasqArgs } from './dns.js';
import { renderServiceRules } from './kube-proxy.js';
import { cniConfigPath, names, nodeCapabilities, nodeImageName, podMarker } from './names.js';
import { peerRoute, planOverlay, tunnelMtu, vxlanOf } from './overlay.js';
import { namespaceLabels, type PolicyView, renderPolicyRules } from './policy.js';
import { publishedPorts, publisherAddress, publishRules } from './publish.js';
import { dnsService, dnsServiceConfig, planServices } from './services.js';
import type { ContainerSpec, LabPlan, NodePlan, PodPlan, PublisherPlan } from './types.js';

/** What the plan needs besides the topology; each is decided by the caller, so the plan stays pure. */
export interface PlanInputs {
  /** The node subnet: `cluster.nodeSubnet`, or the free one the caller picked. */
  nodeSubnet: string;
  /** The node image reference (tag carries the hash of its build inputs). */
  nodeImage: string;
  /** The CNI configuration template (templates/cni/bridge.conf.json). */
  cniTemplate: Record<string, unknown>;
  /** Who makes the lab (`user@host`), recorded on everything it creates. */
  owner?: string;
  /**
   * What a running lab already holds (`lab up` on a changed topology): nodes, pods and Services that
   * stay keep their addresses, pod ranges, placement and ports; only new ones get fresh ones.
   */
  previous?: Allocation;
}

/** Computes every name, address, route, rule, record, config and container spec of a lab. Pure. */
export function planLab(topology: Topology, inputs: PlanInputs): LabPlan {
  const lab = topology.name;
  const hash = topologyHash(topology);
  const subnet = parseCidr(inputs.nodeSubnet);
  const gateway = formatIp(hostAt(subnet, 1));
  const previous = inputs.previous;
  // A node that stays keeps its range (unless the file names one); the others get free blocks.
  const kept = topology.nodes.map((n) =>
    n.podCIDR === undefined && previous?.nodes[n.name]
      ? { ...n, podCIDR: previous.nodes[n.name]!.podCIDR }
      : n,
  );
  const ranges = allocateNodeRanges(topology.cluster, kept).map((r) => {
    if (!r.ok) throw new PlanError(r.message, 'run lab validate on the file: it names the field to change');
    return r.cidr;
  });
  // A lab that lists engines says which on every object, so that any command finds them all.
  const engines = usedEngines(topology);
  const common = (role: string): Record<string, string> => ({
    [Label.lab]: lab,
    [Label.role]: role,
    [Label.topologyHash]: hash,
    ...(inputs.owner ? { [Label.owner]: inputs.owner } : {}),
    ...(engines.length ? { [Label.engines]: engineLabel(engines) } : {}),
  });
  const onEngine = (nodeName: string): Record<string, string> => {
    const engine = engineOfNode(topology, topology.nodes.find((n) => n.name === nodeName) ?? {});
    return engine ? { [Label.engine]: engine } : {};
  };
  // Node addresses from .2 in node order; a node that stays keeps its own.
  const keptIps = new Set(topology.nodes.flatMap((n) => previous?.nodes[n.name]?.ip ?? []));
  let nextNodeHost = 2;
  const freeNodeIp = (): string => {
    while (keptIps.has(formatIp(hostAt(subnet, nextNodeHost)))) nextNodeHost++;
    return formatIp(hostAt(subnet, nextNodeHost++));
  };
  const nodeBase = topology.nodes.map((node, i) => ({
    name: node.name,
    ip: previous?.nodes[node.name]?.ip ?? freeNodeIp(),
    podCIDR: ranges[i]!,
  }));
  const nodeNames = new Set(nodeBase.map((n) => n.name));

  // The DNS pod runs on the first node (or where it ran), after the lab's own pods, as a pod of kube-system.
  const dnsKey = `${dnsService.namespace}/${dnsService.podName}`;
  const dnsWas = previous?.pods[dnsKey]?.node;
  const dnsNode = dnsWas && nodeNames.has(dnsWas) ? dnsWas : nodeBase[0]!.name;
  const spread: PodInstance[] = [
    ...expandPods(topology),
    {
      namespace: dnsService.namespace,
      name: dnsService.podName,
      node: dnsNode,
      templateIndex: -1,
      template: {
        name: dnsService.podName,
        namespace: dnsService.namespace,
        labels: { [dnsService.labelKey]: dnsService.app },
        restartPolicy: 'Always',
        containers: [
          {
            name: 'dnsmasq',
            imagePullPolicy: 'Never',
            env: {},
            ports: [
              { name: 'dns', containerPort: 53, protocol: 'UDP' },
              { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
            ],
          },
        ],
      },
    },
  ];
  // A pod that stays keeps its node unless the file pins it elsewhere (a scheduler never moves a pod).
  const instances = spread.map((instance): PodInstance => {
    const was = previous?.pods[`${instance.namespace}/${instance.name}`]?.node;
    return instance.template.node === undefined && instance.templateIndex >= 0 && was && nodeNames.has(was)
      ? { ...instance, node: was }
      : instance;
  });

  // Pod addresses: each node hands out its range in order from .2 (.1 is the bridge), past the
  // addresses of pods that stay on it.
  const keptPodIps = new Map<string, string>();
  for (const { namespace, name, node } of instances) {
    const was = previous?.pods[`${namespace}/${name}`];
    if (was?.node === node) keptPodIps.set(`${namespace}/${name}`, was.ip);
  }
  const reserved = new Set(keptPodIps.values());
  const nextHost = new Map(nodeBase.map((n) => [n.name, 2]));
  const podIp = (key: string, podCIDR: string, node: string): string => {
    const kept = keptPodIps.get(key);
    if (kept) return kept;
    const range = parseCidr(podCIDR);
    let host = nextHost.get(node)!;
    while (reserved.has(formatIp(hostAt(range, host)))) host++;
    nextHost.set(node, host + 1);
    return formatIp(hostAt(range, host));
  };
  const resolver = { servers: [topology.dns.clusterIP], options: ['ndots:5'] };
  const isNodeImage = (image: string | undefined) => image === undefined || image === nodeImageName;
  const imageOf = (image: string | undefined): string => (isNodeImage(image) ? inputs.nodeImage : image!);

  const pods: PodPlan[] = instances.map((instance): PodPlan => {
    const { namespace, name, template } = instance;
    const key = `${namespace}/${name}`;
    const node = nodeBase.find((n) => n.name === instance.node)!;
    const ip = podIp(key, node.podCIDR, node.name);
    const sandboxName = names.sandbox(lab, namespace, name);
    const podLabels = {
      ...common('sandbox'),
      ...onEngine(instance.node),
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
      pidContainer: names.node(lab, instance.node),
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
      extraHosts: [`${name}:${ip}`],
    };
    const containers = template.containers.map((c): ContainerSpec => {
      const own = isNodeImage(c.image ?? template.image);
      return {
        name: names.container(lab, namespace, name, c.name),
        image: imageOf(c.image ?? template.image),
        labels: { ...podLabels, [Label.role]: 'container', [Label.container]: c.name },
        env: { ...c.env, PODLAB_POD_NAME: name, PODLAB_POD_NAMESPACE: namespace },
        ...runAs(c, own),
        ...(c.workingDir !== undefined ? { workingDir: c.workingDir } : {}),
        ...(own ? {} : { pull: c.imagePullPolicy }),
        network: { mode: 'container', container: sandboxName },
        capAdd: [],
        sysctls: {},
      };
    });
    const ports = Object.fromEntries(
      template.containers.flatMap((c) =>
        c.ports.filter((p) => p.name !== undefined).map((p) => [p.name!, p.containerPort]),
      ),
    );
    return {
      namespace,
      name,
      key,
      node: instance.node,
      ip,
      labels: template.labels,
      ports,
      containerPorts: template.containers.flatMap((c) =>
        c.ports.map((p) => ({
          ...(p.name !== undefined ? { name: p.name } : {}),
          port: p.containerPort,
          protocol: p.protocol,
        })),
      ),
      sandbox,
      containers,
      oneShot: template.restartPolicy !== 'Always',
    };
  });

  const services = planServices(topology, pods, [...topology.services, dnsServiceConfig(topology)], previous);
  const dnsPod = pods.at(-1)!;
  dnsPod.containers[0]!.cmd = ['dnsmasq', ...dnsmasqArgs(topology, services, pods)];
  const clusterIPs = services.map((s) => s.clusterIP).filter((ip) => ip !== '' && ip !== 'None');

  const policy: PolicyView = {
    pods: pods.map((p) => ({
      key: p.key,
      namespace: p.namespace,
      name: p.name,
      ip: p.ip,
      node: p.node,
      labels: p.labels,
      ports: p.containerPorts,
    })),
    namespaces: namespaceLabels(topology.namespaces, [
      ...pods.map((p) => p.namespace),
      ...topology.services.map((s) => s.namespace),
      ...topology.networkPolicies.map((p) => p.metadata.namespace),
    ]),
    nodes: nodeBase.map((n) => ({ name: n.name, ip: n.ip, podGateway: gatewayOf(n.podCIDR) })),
    policies: topology.networkPolicies,
  };

  const vxlan = vxlanOf(topology);
  const nodes: NodePlan[] = nodeBase.map((node) => {
    const podGateway = gatewayOf(node.podCIDR);
    const overlay = vxlan
      ? planOverlay(
          vxlan,
          node,
          nodeBase.filter((o) => o.name !== node.name),
          nodeNetworkMtu(topology),
        )
      : undefined;
    return {
      ...node,
      podGateway,
      container: {
        name: names.node(lab, node.name),
        image: inputs.nodeImage,
        hostname: node.name,
        labels: {
          ...common('node'),
          ...onEngine(node.name),
          [Label.node]: node.name,
          [Label.podCIDR]: node.podCIDR,
        },
        env: {},
        cmd: ['tini', '--', 'sleep', 'infinity'],
        network: { mode: 'bridge', network: names.network(lab), ip: node.ip },
        capAdd: [...nodeCapabilities],
        // Bridge netfilter: a reply between two pods of one node crosses the bridge, not the
        // node's routing; iptables must see it to undo a Service's DNAT.
        sysctls: { 'net.ipv4.ip_forward': '1', 'net.bridge.bridge-nf-call-iptables': '1' },
      },
      cniConfig: renderCniConfig(inputs.cniTemplate, topology, node.podCIDR, podGateway),
      ...(overlay ? { overlay } : {}),
      routes: [
        ...nodeBase
          .filter((other) => other.name !== node.name)
          .map((other) => peerRoute(other, overlay?.device)),
        // A ClusterIP needs a route for the node's own connections: their routing comes before the
        // OUTPUT chain's DNAT. Pods' packets are DNATed before routing and never use it.
        ...clusterIPs.map((ip) => `route replace ${ip}/32 dev eth0`),
        // Containment: any other pod or Service address fails here, at once, instead of following
        // the default route out through the Docker host.
        `route replace unreachable ${topology.cluster.podCIDR}`,
        `route replace unreachable ${topology.cluster.serviceCIDR}`,
      ],
      policyRules: renderPolicyRules(policy, node.name),
    };
  });

  const published = publishedPorts(services);
  const publisherIp = publisherAddress(inputs.nodeSubnet);
  const publisher: PublisherPlan | undefined = published.length
    ? {
        ip: publisherIp,
        container: {
          name: names.publisher(lab),
          image: inputs.nodeImage,
          hostname: 'publisher',
          labels: { ...common('publisher'), [Label.published]: JSON.stringify(published) },
          env: {},
          cmd: ['tini', '--', 'sleep', 'infinity'],
          network: { mode: 'bridge', network: names.network(lab), ip: publisherIp },
          capAdd: ['NET_ADMIN', 'NET_RAW'],
          sysctls: { 'net.ipv4.ip_forward': '1' },
          publish: published.map((p) => ({
            port: p.hostPort,
            protocol: p.protocol,
            hostIP: p.hostIP,
            hostPort: p.hostPort,
          })),
        },
        routes: [
          `route replace ${topology.cluster.serviceCIDR} via ${nodeBase.find((n) => n.name === dnsNode)!.ip}`,
        ],
        rules: publishRules(published),
      }
    : undefined;

  return {
    name: lab,
    topologyHash: hash,
    image: inputs.nodeImage,
    domain: topology.cluster.domain,
    podCIDR: topology.cluster.podCIDR,
    serviceCIDR: topology.cluster.serviceCIDR,
    nodeSubnet: inputs.nodeSubnet,
    network: {
      name: names.network(lab),
      subnet: inputs.nodeSubnet,
      gateway,
      ...(spansEngines(topology)
        ? { driver: 'overlay' as const, ipRange: overlayRange(inputs.nodeSubnet) }
        : {}),
      labels: {
        ...common('network'),
        [Label.nodeSubnet]: inputs.nodeSubnet,
        [Label.image]: inputs.nodeImage,
        [Label.topology]: recordTopology(topology),
        [Label.topologyScheme]: String(hashScheme),
      },
    },
    nodes,
    pods,
    services,
    serviceRules: renderServiceRules(services, {
      podCIDR: topology.cluster.podCIDR,
      serviceCIDR: topology.cluster.serviceCIDR,
      nodeSubnet: inputs.nodeSubnet,
    }),
    policy,
    dns: { clusterIP: topology.dns.clusterIP, pod: dnsPod.key, node: dnsNode, podIP: dnsPod.ip },
    published,
    ...(publisher ? { publisher } : {}),
  };
}

/**
 * The part of an overlay node network the engines allocate from by themselves (each engine's load
 * balancer address, helpers): the seventh eighth of the subnet, below the publisher's address at its
 * end and above the nodes' from its start.
 */
export function overlayRange(nodeSubnet: string): string {
  const c = parseCidr(nodeSubnet);
  return formatCidr(subnetOf(c, Math.min(c.bits + 3, 30), 6));
}

/** The bridge's address in a node's pod range: its pods' gateway. */
const gatewayOf = (podCIDR: string) => formatIp(hostAt(parseCidr(podCIDR), 1));

/**
 * What a container runs, as Kubernetes decides it: `command` replaces the image's ENTRYPOINT and
 * `args` its CMD; neither runs the image as built. podlab's own image has nothing of its own to run,
 * so without either it idles (`sleep infinity`), as a pod's tool container.
 */
export function runAs(
  c: { command?: string[]; args?: string[] },
  nodeImage: boolean,
): Pick<ContainerSpec, 'entrypoint' | 'cmd'> {
  if (c.command) return { entrypoint: c.command, cmd: c.args ?? [] };
  if (c.args) return { cmd: c.args };
  return nodeImage ? { cmd: ['sleep', 'infinity'] } : {};
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
    // Over VXLAN a pod's packets must leave room for the encapsulation (flannel: the tunnel's MTU);
    // on a Swarm overlay, for the overlay's.
    ...(topology.cni.mtu !== undefined
      ? { mtu: topology.cni.mtu }
      : topology.cni.backend === 'vxlan'
        ? { mtu: tunnelMtu(nodeNetworkMtu(topology)) }
        : spansEngines(topology)
          ? { mtu: nodeNetworkMtu(topology) }
          : {}),
    ipam: { ...ipam, ranges: [[{ subnet: podCIDR, gateway }]] },
  };
}

export { cniConfigPath };

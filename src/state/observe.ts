import { agent, parsePods } from '../agent/agent.js';
import { messageOf } from '../errors.js';
import { Label, labFilter } from '../labels.js';
import { parseIp } from '../net/ipv4.js';
import { planLab } from '../plan/plan.js';
import type { DnsPlan, ServicePlan } from '../plan/types.js';
import type { ContainerInfo, NetworkInfo, Runtime } from '../runtime/runtime.js';
import { type Recorded, readRecorded } from './recorded.js';

export interface NodeState {
  name: string;
  ip: string;
  podCIDR: string;
  container: string;
  state: string;
}

export interface PodState {
  namespace: string;
  name: string;
  node: string;
  /** The address on the pod's eth0, read inside the pod's namespace; '' when it has none. */
  ip: string;
  labels: Record<string, string>;
  containers: string[];
  /** Sandbox state; `running` when healthy. */
  state: string;
}

/** A lab as the engine has it: built only from labelled objects, so it works from any directory. */
export interface LabState {
  name: string;
  topologyHash: string;
  nodeSubnet: string;
  network?: NetworkInfo;
  nodes: NodeState[];
  pods: PodState[];
  /** Every labelled container of the lab, for status and removal. */
  containers: ContainerInfo[];
  /** Problems found while reading it: stopped nodes, pods without an IP. */
  problems: string[];
  /** Services as planned from the topology the lab was built from, endpoints checked against the pods. */
  services: ServiceState[];
  dns?: DnsPlan & { ready: boolean };
  /** The cluster domain ('' when the lab's topology could not be read). */
  domain: string;
  /** The topology recorded at up, validated; undefined when the network (and so the record) is missing. */
  recorded?: Recorded;
}

/** A Service with its endpoints marked ready when the pod runs with the planned address. */
export type ServiceState = Omit<ServicePlan, 'endpoints'> & {
  endpoints: (ServicePlan['endpoints'][number] & { ready: boolean })[];
};

/**
 * Services and DNS of a lab, and the containers it should have but lacks, from the topology on its
 * network (labels are written once, at up).
 */
function plannedOf(
  network: NetworkInfo | undefined,
  recorded: Recorded | undefined,
  pods: PodState[],
  containers: ContainerInfo[],
): Pick<LabState, 'services' | 'dns' | 'domain'> & { missing: string[]; order: Map<string, string[]> } {
  const none = { services: [], domain: '', missing: [], order: new Map<string, string[]>() };
  if (!network || !recorded?.ok) return none;
  const { topology } = recorded;
  const nodeSubnet = network.labels[Label.nodeSubnet];
  if (!nodeSubnet) return { ...none, domain: topology.cluster.domain };
  const plan = planLab(topology, {
    nodeSubnet,
    nodeImage: network.labels[Label.image] ?? '',
    cniTemplate: {},
  });
  const present = new Set(containers.map((c) => c.name));
  const missing = [
    ...plan.nodes.map((n) => n.container),
    ...plan.pods.flatMap((p) => [p.sandbox, ...p.containers]),
  ]
    .map((c) => c.name)
    .filter((name) => !present.has(name));
  const ready = (key: string, ip: string) =>
    pods.some((p) => `${p.namespace}/${p.name}` === key && p.state === 'running' && p.ip === ip);
  return {
    services: plan.services.map((s) => ({
      ...s,
      endpoints: s.endpoints.map((e) => ({ ...e, ready: ready(e.pod, e.ip) })),
    })),
    dns: { ...plan.dns, ready: ready(plan.dns.pod, plan.dns.podIP) },
    domain: plan.domain,
    missing,
    // Containers in the order the topology declares them.
    order: new Map(plan.pods.map((p) => [p.key, p.containers.map((c) => c.labels[Label.container] ?? '')])),
  };
}

/** Names of all labs that have anything in the engine. */
export async function listLabs(runtime: Runtime): Promise<string[]> {
  const [networks, containers] = await Promise.all([
    runtime.listNetworks(labFilter()),
    runtime.listContainers(labFilter()),
  ]);
  const names = new Set(
    [...networks, ...containers].map((o) => o.labels[Label.lab]).filter((n): n is string => !!n),
  );
  return [...names].sort();
}

/**
 * Reads a lab back from the engine. Pod IPs come from inside each node (one exec per running node),
 * unless the caller passes addresses it has just verified (`up`), or `false` to skip them;
 * `undefined` when nothing of the lab exists.
 */
export async function observeLab(
  runtime: Runtime,
  lab: string,
  options: { podIPs?: boolean | Map<string, string> } = {},
): Promise<LabState | undefined> {
  const [networks, containers] = await Promise.all([
    runtime.listNetworks(labFilter(lab)),
    runtime.listContainers(labFilter(lab)),
  ]);
  if (networks.length === 0 && containers.length === 0) return undefined;
  const network = networks[0];
  const problems: string[] = [];
  const topologyHash = network?.labels[Label.topologyHash] ?? containers[0]?.labels[Label.topologyHash] ?? '';
  const nodes: NodeState[] = containers
    .filter((c) => c.labels[Label.role] === 'node')
    .map((c) => ({
      name: c.labels[Label.node] ?? c.name,
      ip: (network && c.ips[network.name]) || '',
      podCIDR: c.labels[Label.podCIDR] ?? '',
      container: c.name,
      state: c.state,
    }))
    .sort((a, b) => (parseIp(a.ip) ?? 0) - (parseIp(b.ip) ?? 0) || a.name.localeCompare(b.name));
  const ips = new Map<string, string>(options.podIPs instanceof Map ? options.podIPs : []);
  if (options.podIPs === undefined || options.podIPs === true) {
    await Promise.all(
      nodes
        .filter((n) => n.state === 'running')
        .map(async (n) => {
          try {
            const { ready, pods } = parsePods(await agent(runtime, n, ['pods']));
            for (const line of pods) ips.set(line.pod, line.ip);
            if (ready !== topologyHash) problems.push(`node ${n.name}: lab up did not finish there`);
          } catch (error) {
            problems.push(`node ${n.name}: cannot read pod addresses: ${messageOf(error)}`);
          }
        }),
    );
  }
  const pods: PodState[] = containers
    .filter((c) => c.labels[Label.role] === 'sandbox')
    .map((c) => {
      const key = c.labels[Label.pod] ?? '';
      const [namespace = '', name = ''] = key.split('/');
      return {
        namespace,
        name,
        node: c.labels[Label.node] ?? '',
        ip: ips.get(key) ?? '',
        labels: parseLabels(c.labels[Label.podLabels]),
        containers: containers
          .filter((k) => k.labels[Label.role] === 'container' && k.labels[Label.pod] === key)
          .map((k) => k.labels[Label.container] ?? k.name)
          .sort(),
        state: c.state,
      };
    })
    .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  for (const c of containers) if (c.state !== 'running') problems.push(`${c.name} is ${c.state}`);
  if (!network) problems.push('the node network is missing');
  for (const p of pods)
    if (options.podIPs !== false && p.state === 'running' && !p.ip)
      problems.push(`pod ${p.namespace}/${p.name} has no IP`);
  const recorded = network ? readRecorded(network.labels, network.name) : undefined;
  if (recorded && !recorded.ok) problems.push(recorded.problem);
  const { missing, order, ...planned } = plannedOf(network, recorded, pods, containers);
  for (const name of missing) problems.push(`${name} is missing`);
  for (const p of pods) {
    const declared = order.get(`${p.namespace}/${p.name}`);
    if (declared) p.containers.sort((a, b) => rank(declared, a) - rank(declared, b));
  }
  return {
    name: lab,
    topologyHash,
    nodeSubnet: network?.labels[Label.nodeSubnet] ?? '',
    ...(network ? { network } : {}),
    nodes,
    pods,
    containers,
    problems,
    ...planned,
    ...(recorded ? { recorded } : {}),
  };
}

/** Where a container stands in its pod's declared order (unknown ones last). */
function rank(declared: string[], name: string): number {
  const i = declared.indexOf(name);
  return i < 0 ? declared.length : i;
}

function parseLabels(text: string | undefined): Record<string, string> {
  try {
    return text ? (JSON.parse(text) as Record<string, string>) : {};
  } catch {
    return {};
  }
}

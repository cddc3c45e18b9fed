import { agent, parsePods } from '../agent/agent.js';
import { messageOf } from '../errors.js';
import { Label, labFilter } from '../labels.js';
import { parseIp } from '../net/ipv4.js';
import { type Allocation, allocationHash, parseAllocation } from '../plan/allocation.js';
import { planLab } from '../plan/plan.js';
import type { DnsPlan, LabPlan, ServicePlan } from '../plan/types.js';
import type { ContainerInfo, NetworkInfo, Runtime } from '../runtime/runtime.js';
import { type Recorded, readRecorded } from './recorded.js';

export interface NodeState {
  name: string;
  ip: string;
  podCIDR: string;
  container: string;
  state: string;
  /** The engine it runs on (a lab across engines: its name in the topology). */
  engine?: string;
}

export interface PodState {
  namespace: string;
  name: string;
  node: string;
  /** The address on the pod's eth0, read inside the pod's namespace; '' when it has none. */
  ip: string;
  labels: Record<string, string>;
  /** Its containers' names, in the order the topology declares them. */
  containers: string[];
  /** Each container's state, with the exit code and last output of one that stopped. */
  containerStates: ContainerState[];
  /**
   * `running` when its sandbox and containers run; `completed` when a pod that runs to completion
   * (restartPolicy OnFailure or Never) has every container exited with 0; `failed` when a container
   * stopped otherwise; the sandbox's own state when that is not running.
   */
  state: string;
}

/** One container of a pod as the engine has it. */
export interface ContainerState {
  name: string;
  state: string;
  exitCode?: number;
  /** The last lines it printed, for one that stopped (read when the caller reads pod addresses). */
  lastOutput?: string;
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
  /** The plan of the recorded topology: what the lab should be. */
  plan?: LabPlan;
  /** How many changes were applied in place (0: as `up` made it) and the record container of the last. */
  generation: number;
  record?: string;
  /** Who made the lab (`user@host`; '' when not recorded). */
  owner: string;
}

/** A Service with its endpoints marked ready when the pod runs with the planned address. */
export type ServiceState = Omit<ServicePlan, 'endpoints'> & {
  endpoints: (ServicePlan['endpoints'][number] & { ready: boolean })[];
};

/**
 * Services and DNS of a lab, and the containers it should have but lacks, from the topology on its
 * network (labels are written once, at up).
 */
function planOf(
  network: NetworkInfo | undefined,
  recorded: Recorded | undefined,
  previous: Allocation | undefined,
): LabPlan | undefined {
  const nodeSubnet = network?.labels[Label.nodeSubnet];
  if (!network || !recorded?.ok || !nodeSubnet) return undefined;
  return planLab(recorded.topology, {
    nodeSubnet,
    nodeImage: network.labels[Label.image] ?? '',
    cniTemplate: {},
    ...(previous ? { previous } : {}),
  });
}

/** The allocation a record container holds, checked against the hash recorded beside it. */
function readAllocation(
  record: ContainerInfo,
): { ok: true; allocation: Allocation } | { ok: false; problem: string } {
  const text = record.labels[Label.allocation];
  const allocation = parseAllocation(text);
  if (text !== undefined && allocation && allocationHash(text) === record.labels[Label.allocationHash])
    return { ok: true, allocation };
  return {
    ok: false,
    problem: `the label ${Label.allocation} of container ${record.name} is missing, not an allocation, or does not match its hash`,
  };
}

/** A record container's generation (0 when unreadable). */
export function generationOf(c: ContainerInfo): number {
  const n = Number(c.labels[Label.generation]);
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

function plannedOf(
  plan: LabPlan | undefined,
  pods: PodState[],
  containers: ContainerInfo[],
): Pick<LabState, 'services' | 'dns' | 'domain'> & { missing: string[]; order: Map<string, string[]> } {
  if (!plan) return { services: [], domain: '', missing: [], order: new Map() };
  const present = new Set(containers.map((c) => c.name));
  const missing = [
    ...plan.nodes.map((n) => n.container),
    ...plan.pods.flatMap((p) => [p.sandbox, ...p.containers]),
    ...(plan.publisher ? [plan.publisher.container] : []),
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

/** A pod's state from its sandbox's and its containers' (see PodState.state). */
export function podStateOf(sandbox: string, containers: ContainerState[], oneShot: boolean): string {
  if (sandbox !== 'running') return sandbox;
  const stopped = containers.filter((k) => k.state !== 'running');
  if (stopped.length === 0) return 'running';
  if (oneShot && stopped.every((k) => k.exitCode === 0))
    return stopped.length === containers.length ? 'completed' : 'running';
  return 'failed';
}

/** Every lab in the engine and who made it (`user@host`; '' for a lab made before podlab recorded it). */
export async function labOwners(runtime: Runtime): Promise<Map<string, string>> {
  const [networks, containers] = await Promise.all([
    runtime.listNetworks(labFilter()),
    runtime.listContainers(labFilter()),
  ]);
  const owners = new Map<string, string>();
  for (const o of [...networks, ...containers]) {
    const lab = o.labels[Label.lab];
    if (lab && !owners.get(lab)) owners.set(lab, o.labels[Label.owner] ?? '');
  }
  return new Map([...owners].sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * Reads a lab back from the engine. Pod IPs come from inside each node (one exec per running node),
 * unless the caller passes addresses it has just verified (`up`), or `false` to skip them;
 * `undefined` when nothing of the lab exists.
 */
export async function observeLab(
  runtime: Runtime,
  lab: string,
  options: {
    podIPs?: boolean | Map<string, string>;
    /**
     * Reads the nodes' `pods` output some other way (lab test: its probe listeners print it); a node
     * it has nothing for is asked with its own exec.
     */
    podsOf?: (nodes: NodeState[]) => Promise<Map<string, string>>;
  } = {},
): Promise<LabState | undefined> {
  const [networks, labelled] = await Promise.all([
    runtime.listNetworks(labFilter(lab)),
    runtime.listContainers(labFilter(lab)),
  ]);
  if (networks.length === 0 && labelled.length === 0) return undefined;
  const network = networks[0];
  const problems: string[] = [];
  // The newest record container, when the lab was changed in place, holds its topology.
  const record = labelled
    .filter((c) => c.labels[Label.role] === 'record')
    .sort((a, b) => generationOf(b) - generationOf(a))[0];
  const containers = labelled.filter((c) => !['record', 'helper'].includes(c.labels[Label.role] ?? ''));
  const topologyHash =
    record?.labels[Label.topologyHash] ??
    network?.labels[Label.topologyHash] ??
    containers[0]?.labels[Label.topologyHash] ??
    '';
  const nodes: NodeState[] = containers
    .filter((c) => c.labels[Label.role] === 'node')
    .map((c) => ({
      name: c.labels[Label.node] ?? c.name,
      ip: (network && c.ips[network.name]) || '',
      podCIDR: c.labels[Label.podCIDR] ?? '',
      container: c.name,
      state: c.state,
      ...(c.labels[Label.engine] ? { engine: c.labels[Label.engine] } : {}),
    }))
    .sort((a, b) => (parseIp(a.ip) ?? 0) - (parseIp(b.ip) ?? 0) || a.name.localeCompare(b.name));
  const ips = new Map<string, string>(options.podIPs instanceof Map ? options.podIPs : []);
  if (options.podIPs === undefined || options.podIPs === true) {
    const given = (await options.podsOf?.(nodes)) ?? new Map<string, string>();
    await Promise.all(
      nodes
        .filter((n) => n.state === 'running')
        .map(async (n) => {
          try {
            const { ready, pods } = parsePods(given.get(n.name) ?? (await agent(runtime, n, ['pods'])));
            for (const line of pods) ips.set(line.pod, line.ip);
            if (ready !== topologyHash) problems.push(`node ${n.name}: lab up did not finish there`);
          } catch (error) {
            problems.push(`node ${n.name}: cannot read pod addresses: ${messageOf(error)}`);
          }
        }),
    );
  }
  const allocation = record ? readAllocation(record) : undefined;
  // A record whose allocation cannot be trusted is as damaged as a topology that cannot.
  const recorded: Recorded | undefined =
    allocation?.ok === false
      ? allocation
      : record
        ? readRecorded(record.labels, `container ${record.name}`)
        : network
          ? readRecorded(network.labels, `network ${network.name}`)
          : undefined;
  if (recorded && !recorded.ok) problems.push(recorded.problem);
  const plan = planOf(network, recorded, allocation?.ok ? allocation.allocation : undefined);
  const oneShot = new Set(plan?.pods.filter((p) => p.oneShot).map((p) => p.key));
  const withOutput = options.podIPs !== false;
  const pods: PodState[] = await Promise.all(
    containers
      .filter((c) => c.labels[Label.role] === 'sandbox')
      .map(async (c) => {
        const key = c.labels[Label.pod] ?? '';
        const [namespace = '', name = ''] = key.split('/');
        const mine = containers
          .filter((k) => k.labels[Label.role] === 'container' && k.labels[Label.pod] === key)
          .sort((a, b) => a.name.localeCompare(b.name));
        const containerStates = await Promise.all(
          mine.map(async (k): Promise<ContainerState> => {
            const stopped = k.state !== 'running';
            const output =
              stopped && withOutput ? (await runtime.logs(k.id, { tail: 5 }).catch(() => '')).trimEnd() : '';
            return {
              name: k.labels[Label.container] ?? k.name,
              state: k.state,
              ...(k.exitCode !== undefined ? { exitCode: k.exitCode } : {}),
              ...(output ? { lastOutput: output } : {}),
            };
          }),
        );
        return {
          namespace,
          name,
          node: c.labels[Label.node] ?? '',
          ip: ips.get(key) ?? '',
          labels: parseLabels(c.labels[Label.podLabels]),
          containers: containerStates.map((k) => k.name),
          containerStates,
          state: podStateOf(c.state, containerStates, oneShot.has(key)),
        };
      }),
  );
  pods.sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  for (const c of containers) {
    if (c.state === 'running' || c.labels[Label.role] === 'container') continue;
    problems.push(`${c.name} is ${c.state}`);
  }
  for (const p of pods) {
    const key = `${p.namespace}/${p.name}`;
    for (const k of p.containerStates) {
      if (k.state === 'running' || (oneShot.has(key) && k.exitCode === 0)) continue;
      const how = k.exitCode !== undefined ? `exited with code ${k.exitCode}` : `is ${k.state}`;
      problems.push(
        `pod ${key}: container ${k.name} ${how}${k.lastOutput ? `; its last output: ${k.lastOutput.split('\n').at(-1)}` : ''}`,
      );
    }
  }
  if (!network) problems.push('the node network is missing');
  for (const p of pods)
    if (options.podIPs !== false && p.state === 'running' && !p.ip)
      problems.push(`pod ${p.namespace}/${p.name} has no IP`);
  const { missing, order, ...planned } = plannedOf(plan, pods, containers);
  for (const name of missing) problems.push(`${name} is missing`);
  for (const p of pods) {
    const declared = order.get(`${p.namespace}/${p.name}`);
    if (!declared) continue;
    const at = (name: string) => rank(declared, name);
    p.containerStates.sort((a, b) => at(a.name) - at(b.name));
    p.containers = p.containerStates.map((k) => k.name);
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
    ...(plan ? { plan } : {}),
    generation: record ? generationOf(record) : 0,
    ...(record ? { record: record.name } : {}),
    owner: network?.labels[Label.owner] ?? containers[0]?.labels[Label.owner] ?? '',
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

import { stableJson } from '../config/canonical.js';
import { Label } from '../labels.js';
import { policyKey } from './policy.js';
import type { ContainerSpec, LabPlan, NodePlan, PodPlan } from './types.js';

/** A change that `lab up` cannot make to a running lab: the field, what the lab has and what the file says. */
export interface RefusedChange {
  field: string;
  from: string;
  to: string;
}

/** Containers added, removed or recreated inside a pod that stays (its sandbox, address and namespace stay). */
export interface PodContainersDiff {
  pod: string;
  added: string[];
  removed: string[];
  replaced: string[];
}

/**
 * What `lab up` changes in a running lab to make it the planned one (diffPlans). Names are node
 * names, pod keys (`namespace/name`), container names as the topology gives them and Service keys.
 */
export interface LabDiff {
  refused: RefusedChange[];
  nodes: { added: string[]; removed: string[] };
  /** `replaced`: the pod is removed and created again (its sandbox changed: labels, node, address). */
  pods: { added: string[]; removed: string[]; replaced: string[] };
  containers: PodContainersDiff[];
  services: { added: string[]; removed: string[]; changed: string[] };
  /** kube-proxy's rules change: every node that stays reloads them. */
  rules: boolean;
  /** NetworkPolicies added, removed or changed (`namespace/name`). */
  policies: { added: string[]; removed: string[]; changed: string[] };
  /** Nodes that stay whose NetworkPolicy rules change (a policy, or the pods it selects, changed). */
  policyRules: string[];
  /** Route (and overlay neighbour) changes of each node that stays, as `ip -batch` lines (only nodes with changes). */
  routes: Record<string, string[]>;
  /** Overlay FDB changes of each node that stays, as `bridge -batch` lines (vxlan only). */
  fdb: Record<string, string[]>;
  /** The publisher of host ports comes, goes or is created again (its ports or rules change). */
  publisher?: 'added' | 'removed' | 'replaced';
}

/** Fields that a running lab cannot change: every address, route and config depends on them. */
const fixedFields: { field: string; of(plan: LabPlan): unknown }[] = [
  { field: 'cluster.domain', of: (p) => p.domain },
  { field: 'cluster.podCIDR', of: (p) => p.podCIDR },
  { field: 'cluster.serviceCIDR', of: (p) => p.serviceCIDR },
  { field: 'cluster.nodeSubnet', of: (p) => p.nodeSubnet },
  { field: 'dns.clusterIP', of: (p) => p.dns.clusterIP },
];

/** Fields of the CNI config that pods already wired in depend on. */
const fixedCni = ['bridge', 'mtu'] as const;

/** A container spec as compared: without the labels that name the lab's version and owner, not the container. */
function specKey(spec: ContainerSpec): string {
  const { [Label.topologyHash]: _hash, [Label.owner]: _owner, ...labels } = spec.labels;
  return stableJson({ ...spec, labels });
}

/** The destination of a route line (`route replace [unreachable] DEST …`). */
export function routeDestination(line: string): string {
  const words = line.trim().split(/\s+/);
  const at = ['unreachable', 'blackhole', 'prohibit'].includes(words[2] ?? '') ? 3 : 2;
  return words[at] ?? '';
}

/**
 * The `ip -batch` lines that take a node from one plan's routes to another's: routes that are new or
 * changed, and the removal of routes whose destination is gone. A removal first replaces the route, so
 * it succeeds whether the route is there or not (a rollback applies it to a half-changed node).
 */
export function routeChanges(from: string[], to: string[]): string[] {
  return keyedChanges(from, to, routeDestination, (line) => {
    const d = routeDestination(line);
    return [`route replace ${d} dev eth0`, `route del ${d}`];
  });
}

/** The key of a neighbour or FDB line: the address or MAC after `neigh replace` / `fdb replace`. */
const thirdWord = (line: string) => line.split(' ')[2] ?? '';

/**
 * Lines that take a node from one list of `replace` entries to another: the removal of each entry
 * whose key (`keyOf`) is gone, as `remove(line)` gives it (a replace then a delete, so that it succeeds
 * whether the entry is there or not), then the entries that are new or changed.
 */
function keyedChanges(
  from: string[],
  to: string[],
  keyOf: (line: string) => string,
  remove: (line: string) => string[],
): string[] {
  const had = new Set(from);
  const kept = new Set(to.map(keyOf));
  const removed = new Set<string>();
  const gone = from.filter((line) => {
    const key = keyOf(line);
    if (!key || kept.has(key) || removed.has(key)) return false;
    removed.add(key);
    return true;
  });
  return [...gone.flatMap(remove), ...to.filter((line) => !had.has(line))];
}

/**
 * What changes when the lab planned as `from` becomes the lab planned as `to` (pure). `to` must be
 * planned with `from`'s allocation as `previous`, so that what stays has the same names and addresses.
 */
export function diffPlans(from: LabPlan, to: LabPlan): LabDiff {
  const refused: RefusedChange[] = [];
  for (const { field, of } of fixedFields) {
    const a = of(from);
    const b = of(to);
    if (stableJson(a) !== stableJson(b)) refused.push({ field, from: String(a), to: String(b) });
  }
  const fromNodes = new Map(from.nodes.map((n) => [n.name, n]));
  const toNodes = new Map(to.nodes.map((n) => [n.name, n]));
  to.nodes.forEach((node, i) => {
    const was = fromNodes.get(node.name);
    if (was && was.podCIDR !== node.podCIDR)
      refused.push({ field: `nodes[${i}].podCIDR`, from: was.podCIDR, to: node.podCIDR });
    if (was && Object.keys(was.cniConfig).length > 0)
      for (const key of fixedCni)
        if (
          stableJson(was.cniConfig[key]) !== stableJson(node.cniConfig[key]) &&
          !refused.some((r) => r.field === `cni.${key}`)
        )
          refused.push({
            field: `cni.${key}`,
            from: String(was.cniConfig[key] ?? '(none)'),
            to: String(node.cniConfig[key] ?? '(none)'),
          });
  });
  const backendOf = (plan: LabPlan) => {
    const o = plan.nodes[0]?.overlay;
    return o ? `vxlan (VNI ${o.vni}, port ${o.port})` : 'host-gw';
  };
  if (from.nodes.length && to.nodes.length && backendOf(from) !== backendOf(to))
    refused.push({ field: 'cni.backend', from: backendOf(from), to: backendOf(to) });
  if (!toNodes.has(from.dns.node))
    refused.push({
      field: 'nodes',
      from: `node ${from.dns.node} (it holds the DNS pod and the lab's exercise progress)`,
      to: `no node ${from.dns.node}`,
    });

  const fromPods = new Map(from.pods.map((p) => [p.key, p]));
  const toPods = new Map(to.pods.map((p) => [p.key, p]));
  const pods: LabDiff['pods'] = {
    added: to.pods.filter((p) => !fromPods.has(p.key)).map((p) => p.key),
    removed: from.pods.filter((p) => !toPods.has(p.key)).map((p) => p.key),
    replaced: [],
  };
  const containers: PodContainersDiff[] = [];
  for (const pod of to.pods) {
    const was = fromPods.get(pod.key);
    if (!was) continue;
    if (specKey(was.sandbox) !== specKey(pod.sandbox)) {
      pods.replaced.push(pod.key);
      continue;
    }
    const change = containerChanges(was, pod);
    if (change.added.length + change.removed.length + change.replaced.length > 0) containers.push(change);
  }

  const fromServices = new Map(from.services.map((s) => [s.key, s]));
  const toServices = new Map(to.services.map((s) => [s.key, s]));
  const services = {
    added: to.services.filter((s) => !fromServices.has(s.key)).map((s) => s.key),
    removed: from.services.filter((s) => !toServices.has(s.key)).map((s) => s.key),
    changed: to.services
      .filter((s) => fromServices.has(s.key) && stableJson(fromServices.get(s.key)) !== stableJson(s))
      .map((s) => s.key),
  };

  const routes: Record<string, string[]> = {};
  const fdb: Record<string, string[]> = {};
  for (const node of to.nodes) {
    const was = fromNodes.get(node.name);
    if (!was) continue;
    // Neighbours first: a route via the overlay needs its peer's entry.
    const lines = [
      ...keyedChanges(was.overlay?.neighbours ?? [], node.overlay?.neighbours ?? [], thirdWord, (l) => [
        l,
        l.replace(/^neigh replace (\S+) lladdr \S+ (dev \S+).*$/, 'neigh del $1 $2'),
      ]),
      ...routeChanges(was.routes, node.routes),
    ];
    if (lines.length) routes[node.name] = lines;
    const entries = keyedChanges(was.overlay?.fdb ?? [], node.overlay?.fdb ?? [], thirdWord, (l) => [
      l,
      l.replace(/^fdb replace (.*) self permanent$/, 'fdb del $1 self'),
    ]);
    if (entries.length) fdb[node.name] = entries;
  }
  return {
    refused,
    nodes: {
      added: to.nodes.filter((n) => !fromNodes.has(n.name)).map((n) => n.name),
      removed: from.nodes.filter((n) => !toNodes.has(n.name)).map((n) => n.name),
    },
    pods,
    containers,
    services,
    rules: from.serviceRules !== to.serviceRules,
    policies: keyedDiff(from.policy.policies, to.policy.policies, policyKey),
    policyRules: to.nodes
      .filter((n) => {
        const was = from.nodes.find((o) => o.name === n.name);
        return was !== undefined && was.policyRules !== n.policyRules;
      })
      .map((n) => n.name),
    routes,
    fdb,
    ...publisherChange(from, to),
  };
}

function publisherChange(from: LabPlan, to: LabPlan): Pick<LabDiff, 'publisher'> {
  const [a, b] = [from.publisher, to.publisher];
  if (!a && b) return { publisher: 'added' };
  if (a && !b) return { publisher: 'removed' };
  if (
    a &&
    b &&
    (specKey(a.container) !== specKey(b.container) ||
      a.rules !== b.rules ||
      stableJson(a.routes) !== stableJson(b.routes))
  )
    return { publisher: 'replaced' };
  return {};
}

function containerChanges(was: PodPlan, pod: PodPlan): PodContainersDiff {
  const name = (c: ContainerSpec) => c.labels[Label.container] ?? c.name;
  const before = new Map(was.containers.map((c) => [name(c), c]));
  const after = new Map(pod.containers.map((c) => [name(c), c]));
  return {
    pod: pod.key,
    added: [...after.keys()].filter((k) => !before.has(k)),
    removed: [...before.keys()].filter((k) => !after.has(k)),
    replaced: [...after]
      .filter(([k, c]) => before.has(k) && specKey(before.get(k)!) !== specKey(c))
      .map(([k]) => k),
  };
}

/** What was added, removed and changed among keyed items, compared as canonical JSON. */
function keyedDiff<T>(
  from: T[],
  to: T[],
  key: (item: T) => string,
): { added: string[]; removed: string[]; changed: string[] } {
  const before = new Map(from.map((x) => [key(x), stableJson(x)]));
  const after = new Map(to.map((x) => [key(x), stableJson(x)]));
  return {
    added: [...after.keys()].filter((k) => !before.has(k)),
    removed: [...before.keys()].filter((k) => !after.has(k)),
    changed: [...after].filter(([k, v]) => before.has(k) && before.get(k) !== v).map(([k]) => k),
  };
}

/** True when the diff changes nothing that runs. */
export function diffIsEmpty(diff: LabDiff): boolean {
  return (
    diff.nodes.added.length +
      diff.nodes.removed.length +
      diff.pods.added.length +
      diff.pods.removed.length +
      diff.pods.replaced.length +
      diff.containers.length +
      Object.keys(diff.routes).length +
      Object.keys(diff.fdb).length +
      diff.policyRules.length ===
      0 &&
    !diff.rules &&
    diff.publisher === undefined
  );
}

/** The node a plan puts a pod on. */
export function nodeOfPod(plan: LabPlan, key: string): NodePlan | undefined {
  const pod = plan.pods.find((p) => p.key === key);
  return pod && plan.nodes.find((n) => n.name === pod.node);
}

/** The diff as lines for a person (`lab up --dry-run`, and `lab up` before it changes a lab). */
export function describeDiff(diff: LabDiff, from: LabPlan, to: LabPlan): string[] {
  const node = (plan: LabPlan, name: string) => plan.nodes.find((n) => n.name === name);
  const pod = (plan: LabPlan, key: string) => plan.pods.find((p) => p.key === key);
  const service = (plan: LabPlan, key: string) => plan.services.find((s) => s.key === key);
  const ports = (key: string, plan: LabPlan) =>
    (service(plan, key)?.ports ?? [])
      .map(
        (p) =>
          `${p.port}/${p.protocol}${p.nodePort !== undefined ? ` (NodePort ${p.nodePort})` : ''}${p.hostPort !== undefined ? ` (host ${p.hostIP}:${p.hostPort})` : ''}`,
      )
      .join(', ');
  const lines: string[] = [];
  for (const name of diff.nodes.added) {
    const n = node(to, name)!;
    lines.push(`+ node ${name}: ${n.ip}, pods ${n.podCIDR}`);
  }
  for (const name of diff.nodes.removed) lines.push(`- node ${name} (${node(from, name)?.ip ?? ''})`);
  for (const key of diff.pods.added) {
    const p = pod(to, key)!;
    lines.push(`+ pod ${key} on ${p.node}: ${p.ip}`);
  }
  for (const key of diff.pods.removed) lines.push(`- pod ${key} (${pod(from, key)?.ip ?? ''})`);
  for (const key of diff.pods.replaced) {
    const [a, b] = [pod(from, key)!, pod(to, key)!];
    const moved = a.node !== b.node ? `, moves from ${a.node} to ${b.node}: ${b.ip}` : '';
    lines.push(`~ pod ${key}: created again (its labels or sandbox change${moved})`);
  }
  for (const c of diff.containers) {
    const what = [
      ...c.added.map((k) => `container ${k} added`),
      ...c.removed.map((k) => `container ${k} removed`),
      ...c.replaced.map((k) => `container ${k} created again`),
    ];
    const dns = c.pod === to.dns.pod ? ' (the DNS server restarts with the new records)' : '';
    lines.push(`~ pod ${c.pod}: ${what.join(', ')}${dns}`);
  }
  for (const key of diff.services.added) {
    const s = service(to, key)!;
    lines.push(`+ service ${key}: ${s.clusterIP || s.externalName || ''} ${ports(key, to)}`.trimEnd());
  }
  for (const key of diff.services.removed) lines.push(`- service ${key}`);
  for (const key of diff.services.changed) {
    const [a, b] = [ports(key, from), ports(key, to)];
    lines.push(
      `~ service ${key}: ${a === b ? 'endpoints change' : `ports ${a || '(none)'} → ${b || '(none)'}`}`,
    );
  }
  if (diff.rules) lines.push('~ kube-proxy rules: reloaded on every node');
  for (const key of diff.policies.added) lines.push(`+ networkpolicy ${key}`);
  for (const key of diff.policies.removed) lines.push(`- networkpolicy ${key}`);
  for (const key of diff.policies.changed) lines.push(`~ networkpolicy ${key}`);
  if (diff.policyRules.length)
    lines.push(`~ NetworkPolicy rules: reloaded on ${diff.policyRules.join(', ')}`);
  const hostPorts = (plan: LabPlan) =>
    plan.published.map((p) => `${p.hostIP}:${p.hostPort} → ${p.service}:${p.port}`).join(', ');
  if (diff.publisher === 'added') lines.push(`+ host ports: ${hostPorts(to)}`);
  if (diff.publisher === 'removed') lines.push(`- host ports: ${hostPorts(from)}`);
  if (diff.publisher === 'replaced')
    lines.push(`~ host ports: ${hostPorts(to) || '(none)'} (its publisher is created again)`);
  const routed = Object.keys(diff.routes);
  if (routed.length) lines.push(`~ routes: changed on ${routed.join(', ')}`);
  return lines;
}

import { createHash } from 'node:crypto';
import {
  type LabelSelector,
  type NetworkPolicyConfig,
  namespaceNameLabel,
  type PolicyPeer,
  type PolicyPort,
} from '../config/types.js';
import { contains, parseCidr, parseIp } from '../net/ipv4.js';

/**
 * NetworkPolicy (networking.k8s.io/v1) as Kubernetes defines it, for a planned lab: who may reach
 * whom (`judge`, which `lab policy explain`, the `network-policy` check and the other checks use),
 * and the iptables rules that make each node enforce exactly that (`renderPolicyRules`). Both are
 * computed from the same selectors, so what the plan expects is what the nodes do.
 *
 * The semantics, from the Kubernetes documentation and API reference:
 * - a pod is isolated for ingress (egress) only when a policy of its namespace selects it and lists
 *   Ingress (Egress) in policyTypes; otherwise everything is allowed in that direction;
 * - an isolated pod admits what any rule of any policy selecting it allows (the union);
 * - a connection needs the source's egress and the destination's ingress; replies pass;
 * - a pod and the node it runs on always reach each other; a pod always reaches itself;
 * - traffic to a Service is judged after its DNAT: the backend pod and its target port;
 * - a peer with podSelector and namespaceSelector selects pods that match both (AND); two peers
 *   are two alternatives (OR); ipBlock matches addresses (pods' too), minus its except ranges;
 * - a rule without ports allows every port and protocol (ICMP too); with ports, only those of the
 *   named protocol; a named port is the destination pod's container port of that name.
 */

/** A pod as policies see it. */
export interface PolicyPod {
  key: string;
  namespace: string;
  name: string;
  ip: string;
  node: string;
  labels: Record<string, string>;
  /** Its containers' declared ports. */
  ports: { name?: string; port: number; protocol: 'TCP' | 'UDP' }[];
}

/** What `judge` and the renderer need of a lab: its pods, namespaces, nodes and policies. */
export interface PolicyView {
  pods: PolicyPod[];
  /** Every namespace's labels, `kubernetes.io/metadata.name` included. */
  namespaces: Record<string, Record<string, string>>;
  /** Node names and addresses (and the pods' gateway on each, the bridge's address). */
  nodes: { name: string; ip: string; podGateway: string }[];
  policies: NetworkPolicyConfig[];
}

export type Protocol = 'TCP' | 'UDP' | 'ICMP';

/** One end of a connection: a pod, or an address that is no pod (a node, a client outside). */
export type PolicyEndpoint = { pod: PolicyPod } | { ip: string };

/** A rule of a policy: `bar/allow-web ingress[0]`. */
export interface RuleRef {
  policy: string;
  direction: 'ingress' | 'egress';
  rule: number;
}

/** One direction's verdict: whether the pod is isolated, and which rules allow, or why not. */
export interface SideVerdict {
  allowed: boolean;
  /** The policies that isolate the pod in this direction (empty: not isolated). */
  isolatedBy: string[];
  /** The rules that allow it (when isolated and allowed). */
  allowedBy: RuleRef[];
  /** Why it is allowed without a rule: not isolated, its own node, itself. */
  because?: string;
}

export interface Verdict {
  allowed: boolean;
  egress: SideVerdict;
  ingress: SideVerdict;
}

/** A policy's rules of one direction, each with its peers (`from` / `to`) and ports. */
export function rulesOf(
  policy: NetworkPolicyConfig,
  direction: 'ingress' | 'egress',
): { peers?: PolicyPeer[]; ports?: PolicyPort[] }[] {
  return direction === 'ingress'
    ? (policy.spec.ingress ?? []).map((r) => ({ peers: r.from, ports: r.ports }))
    : (policy.spec.egress ?? []).map((r) => ({ peers: r.to, ports: r.ports }));
}

/** `ns/name` of a policy. */
export const policyKey = (p: NetworkPolicyConfig) => `${p.metadata.namespace}/${p.metadata.name}`;

/** Policies with `incoming` applied as `kubectl apply` does: one of the same namespace/name is replaced. */
export function applyPolicies(
  current: NetworkPolicyConfig[],
  incoming: NetworkPolicyConfig[],
): NetworkPolicyConfig[] {
  const keys = new Set(incoming.map(policyKey));
  return [...current.filter((p) => !keys.has(policyKey(p))), ...incoming];
}

/** `bar/allow-web ingress[0]`. */
export const formatRule = (r: RuleRef) => `${r.policy} ${r.direction}[${r.rule}]`;

/** Whether labels satisfy a Kubernetes label selector (`{}` selects everything). */
export function selects(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    const values = e.values ?? [];
    if (e.operator === 'In' && !(has && values.includes(value!))) return false;
    if (e.operator === 'NotIn' && has && values.includes(value!)) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** The labels of every namespace named anywhere, with the one the API server always sets. */
export function namespaceLabels(
  declared: { name: string; labels: Record<string, string> }[],
  used: string[],
): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const name of used) out[name] = { [namespaceNameLabel]: name };
  for (const ns of declared) out[ns.name] = { ...ns.labels, [namespaceNameLabel]: ns.name };
  return out;
}

/** The policies that select a pod for a direction: those that isolate it. */
export function isolating(
  view: PolicyView,
  pod: PolicyPod,
  type: 'Ingress' | 'Egress',
): NetworkPolicyConfig[] {
  return view.policies.filter(
    (p) =>
      p.metadata.namespace === pod.namespace &&
      p.spec.policyTypes.includes(type) &&
      selects(p.spec.podSelector, pod.labels),
  );
}

const ipOf = (e: PolicyEndpoint) => ('pod' in e ? e.pod.ip : e.ip);

/** Whether an address is inside an ipBlock and outside its except ranges. */
function inBlock(block: NonNullable<PolicyPeer['ipBlock']>, ip: string): boolean {
  const n = parseIp(ip);
  if (n === undefined || !contains(parseCidr(block.cidr), n)) return false;
  return !(block.except ?? []).some((e) => contains(parseCidr(e), n));
}

/** Whether a peer of a policy in `namespace` matches an endpoint. */
function peerMatches(view: PolicyView, namespace: string, peer: PolicyPeer, e: PolicyEndpoint): boolean {
  if (peer.ipBlock) return inBlock(peer.ipBlock, ipOf(e));
  if (!('pod' in e)) return false;
  const pod = e.pod;
  if (peer.namespaceSelector) {
    if (
      !selects(
        peer.namespaceSelector,
        view.namespaces[pod.namespace] ?? { [namespaceNameLabel]: pod.namespace },
      )
    )
      return false;
  } else if (pod.namespace !== namespace) return false;
  return peer.podSelector ? selects(peer.podSelector, pod.labels) : true;
}

/** The port number a policy port means at a destination: its number, or the destination's named port. */
function portNumber(port: PolicyPort, dest: PolicyEndpoint): number | undefined {
  if (typeof port.port !== 'string') return port.port;
  if (!('pod' in dest)) return undefined;
  return dest.pod.ports.find((p) => p.name === port.port && p.protocol === port.protocol)?.port;
}

function portMatches(
  ports: PolicyPort[] | undefined,
  dest: PolicyEndpoint,
  port: number,
  protocol: Protocol,
): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some((p) => {
    if (p.protocol !== protocol) return false;
    if (p.port === undefined) return true;
    const first = portNumber(p, dest);
    if (first === undefined) return false;
    return (
      port >= first && port <= (typeof p.port === 'number' && p.endPort !== undefined ? p.endPort : first)
    );
  });
}

/** The node an address belongs to (its own address or its pods' gateway). */
function nodeOfIp(view: PolicyView, ip: string): string | undefined {
  return view.nodes.find((n) => n.ip === ip || n.podGateway === ip)?.name;
}

/** One direction: `pod` is the side the policies select, `other` the peer, `dest` the connection's destination. */
function side(
  view: PolicyView,
  direction: 'ingress' | 'egress',
  pod: PolicyPod,
  other: PolicyEndpoint,
  port: number,
  protocol: Protocol,
): SideVerdict {
  if ('pod' in other && other.pod.key === pod.key)
    return { allowed: true, isolatedBy: [], allowedBy: [], because: 'a pod always reaches itself' };
  if (!('pod' in other) && nodeOfIp(view, other.ip) === pod.node)
    return {
      allowed: true,
      isolatedBy: [],
      allowedBy: [],
      because: `a pod and its own node (${pod.node}) always reach each other`,
    };
  const policies = isolating(view, pod, direction === 'ingress' ? 'Ingress' : 'Egress');
  if (policies.length === 0)
    return {
      allowed: true,
      isolatedBy: [],
      allowedBy: [],
      because: `no policy isolates ${pod.key} for ${direction}`,
    };
  const dest = direction === 'ingress' ? ({ pod } as PolicyEndpoint) : other;
  const allowedBy: RuleRef[] = [];
  for (const policy of policies) {
    rulesOf(policy, direction).forEach((rule, i) => {
      const peerOk =
        !rule.peers ||
        rule.peers.length === 0 ||
        rule.peers.some((p) => peerMatches(view, policy.metadata.namespace, p, other));
      if (peerOk && portMatches(rule.ports, dest, port, protocol))
        allowedBy.push({ policy: policyKey(policy), direction, rule: i });
    });
  }
  return { allowed: allowedBy.length > 0, isolatedBy: policies.map(policyKey), allowedBy };
}

/**
 * Whether a connection from `from` to `to` on `port`/`protocol` (ICMP: port 0) is allowed, with the
 * policies and rules that decide each direction.
 */
export function judge(
  view: PolicyView,
  from: PolicyEndpoint,
  to: PolicyEndpoint,
  port: number,
  protocol: Protocol,
): Verdict {
  const open = (because: string): SideVerdict => ({ allowed: true, isolatedBy: [], allowedBy: [], because });
  const egress =
    'pod' in from ? side(view, 'egress', from.pod, to, port, protocol) : open('the source is no pod');
  const ingress =
    'pod' in to ? side(view, 'ingress', to.pod, from, port, protocol) : open('the destination is no pod');
  return { allowed: egress.allowed && ingress.allowed, egress, ingress };
}

/** A verdict in one line: `allowed by bar/web ingress[0]`, `denied: bar/deny-all isolates bar/db for ingress, no rule allows`. */
export function describeVerdict(v: Verdict): string {
  const part = (s: SideVerdict, direction: string, who: string) =>
    s.allowed
      ? s.allowedBy.length
        ? `${direction} allowed by ${s.allowedBy.map(formatRule).join(', ')}`
        : `${direction} open (${s.because})`
      : `${direction} denied: ${who} is isolated by ${s.isolatedBy.join(', ')} and no rule of them allows it`;
  return `${v.allowed ? 'allowed' : 'denied'}: ${part(v.egress, 'egress', 'the source')}; ${part(v.ingress, 'ingress', 'the destination')}`;
}

/** The packet mark bit a policy chain sets when a rule allows the packet (kube-proxy uses 0x4000 and 0x8000). */
export const allowMark = '0x10000/0x10000';
/** The filter chain every node's FORWARD jumps to: the dispatcher to each local pod's policy chains. */
export const policyChain = 'PODLAB-POLICY';
/** The jump from FORWARD into it, as a `table chain target` hook line for podlab-agent's iptables verb. */
export const policyHooks: readonly string[] = [`filter FORWARD ${policyChain}`];

/** A chain name from a prefix and a hash of what it is for (at most 28 characters, as iptables allows). */
function chain(prefix: 'PODLAB-I' | 'PODLAB-E' | 'PODLAB-X', ...parts: string[]): string {
  return `${prefix}-${createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 16).toUpperCase()}`;
}

/** `-p tcp -m tcp --dport N[:M]` for each port spec of a rule at a destination (one empty match: every port). */
function portMatchesFor(ports: PolicyPort[] | undefined, dest: PolicyEndpoint): string[] {
  if (!ports || ports.length === 0) return [''];
  return ports.flatMap((p) => {
    const proto = p.protocol.toLowerCase();
    if (p.port === undefined) return [` -p ${proto}`];
    const first = portNumber(p, dest);
    if (first === undefined) return [];
    const range =
      typeof p.port === 'number' && p.endPort !== undefined && p.endPort !== first ? `:${p.endPort}` : '';
    return [` -p ${proto} -m ${proto} --dport ${first}${range}`];
  });
}

/**
 * The filter rules that enforce the policies for the pods of one node, as `iptables-restore
 * --noflush` input: FORWARD jumps to PODLAB-POLICY, which lets replies through, sends a packet from
 * a pod isolated for egress through that pod's egress chain and a packet to a pod isolated for
 * ingress through its ingress chain. A chain marks the packet when a rule allows it and drops it
 * when none did. Same-node traffic crosses FORWARD too (the nodes set bridge-nf-call-iptables).
 */
export function renderPolicyRules(view: PolicyView, node: string): string {
  const local = view.pods.filter((p) => p.node === node);
  const host = view.nodes.find((n) => n.name === node);
  const chains: string[] = [policyChain];
  const rules: string[] = [];
  const dispatchE: string[] = [];
  const dispatchI: string[] = [];
  const comment = (text: string) => ` -m comment --comment "${text}"`;
  const allow = (text: string) => `${comment(text)} -j MARK --set-xmark ${allowMark}`;

  for (const pod of local) {
    for (const direction of ['egress', 'ingress'] as const) {
      const policies = isolating(view, pod, direction === 'ingress' ? 'Ingress' : 'Egress');
      if (policies.length === 0) continue;
      const own = chain(direction === 'ingress' ? 'PODLAB-I' : 'PODLAB-E', pod.key);
      chains.push(own);
      const [self, peer] = direction === 'ingress' ? ['-d', '-s'] : ['-s', '-d'];
      (direction === 'ingress' ? dispatchI : dispatchE).push(
        `-A ${policyChain} ${self} ${pod.ip}/32${comment(`${pod.key} ${direction}`)} -j ${own}`,
      );
      rules.push(`-A ${own} ${peer} ${pod.ip}/32${comment(`${pod.key} itself`)} -j RETURN`);
      if (direction === 'ingress' && host)
        for (const ip of [host.ip, host.podGateway])
          rules.push(`-A ${own} -s ${ip}/32${comment(`${pod.key}: its own node`)} -j RETURN`);
      for (const policy of policies) {
        const ns = policy.metadata.namespace;
        rulesOf(policy, direction).forEach((rule, r) => {
          const label = `${policyKey(policy)} ${direction}[${r}]`;
          const everyone = !rule.peers || rule.peers.length === 0;
          // Destinations whose named ports resolve differently are written per destination pod.
          const named = (rule.ports ?? []).some((p) => typeof p.port === 'string');
          const peerPods = (peerOf: PolicyPeer | undefined) =>
            view.pods.filter((o) => (peerOf ? peerMatches(view, ns, peerOf, { pod: o }) : true));
          if (direction === 'egress' && named) {
            // Named ports mean the destination's ports: only pods can match them.
            const dests = everyone ? peerPods(undefined) : rule.peers!.flatMap((p) => peerPods(p));
            for (const d of new Set(dests))
              for (const m of portMatchesFor(rule.ports, { pod: d }))
                rules.push(`-A ${own} -d ${d.ip}/32${m}${allow(label)}`);
            return;
          }
          const destination: PolicyEndpoint = { pod };
          const ports = portMatchesFor(rule.ports, direction === 'ingress' ? destination : { ip: '0.0.0.0' });
          if (everyone) {
            for (const m of ports) rules.push(`-A ${own}${m}${allow(label)}`);
            return;
          }
          rule.peers!.forEach((p, i) => {
            if (p.ipBlock) {
              const except = p.ipBlock.except ?? [];
              let target = `MARK --set-xmark ${allowMark}`;
              if (except.length) {
                const sub = chain('PODLAB-X', pod.key, label, String(i));
                chains.push(sub);
                for (const e of except)
                  rules.push(`-A ${sub} ${peer} ${e}${comment(`${label} except`)} -j RETURN`);
                rules.push(`-A ${sub}${allow(label)}`);
                target = sub;
              }
              for (const m of ports)
                rules.push(`-A ${own} ${peer} ${p.ipBlock.cidr}${m}${comment(label)} -j ${target}`);
              return;
            }
            for (const o of peerPods(p))
              for (const m of ports) rules.push(`-A ${own} ${peer} ${o.ip}/32${m}${allow(label)}`);
          });
        });
      }
      rules.push(
        `-A ${own} -m mark ! --mark ${allowMark}${comment(`${pod.key}: no ${direction} rule allows it`)} -j DROP`,
      );
    }
  }
  const clear = `-A ${policyChain} -j MARK --set-xmark 0x0/${allowMark.split('/')[1]}`;
  const dispatch =
    dispatchE.length + dispatchI.length
      ? [
          `-A ${policyChain} -m conntrack --ctstate RELATED,ESTABLISHED${comment('replies of allowed connections')} -j ACCEPT`,
          ...(dispatchE.length ? [clear, ...dispatchE] : []),
          ...(dispatchI.length ? [clear, ...dispatchI] : []),
        ]
      : [];
  return ['*filter', ...chains.map((c) => `:${c} - [0:0]`), ...dispatch, ...rules, 'COMMIT', ''].join('\n');
}

/**
 * The policy rules of `to` for a node that holds those of `from`: the chains `from` declared that
 * `to` no longer has are flushed and deleted in the same transaction.
 */
export function reloadPolicyRules(from: string, to: string): string {
  const declared = (rules: string) => [...rules.matchAll(/^:(PODLAB-[IEX]-\S+) /gm)].map((m) => m[1]!);
  const keep = new Set(declared(to));
  const stale = declared(from).filter((c) => !keep.has(c));
  if (stale.length === 0) return to;
  const at = to.lastIndexOf('COMMIT');
  return `${to.slice(0, at)}${stale.map((c) => `:${c} - [0:0]`).join('\n')}\n${stale.map((c) => `-X ${c}`).join('\n')}\n${to.slice(at)}`;
}

import type { Clock } from '../clock.js';
import { contains, parseCidr, parseIp } from '../net/ipv4.js';
import { isolating, judge, type PolicyEndpoint, type Protocol } from '../plan/policy.js';
import type { Runtime } from '../runtime/runtime.js';
import type { LabState, PodState } from '../state/observe.js';
import { count } from '../text.js';
import type { Coverage } from './coverage.js';
import type { Outside } from './outside.js';
import type { Probes } from './probes.js';

export type { PodState } from '../state/observe.js';

/**
 * `uncertain`: the check could not tell, for a reason that is not the lab's (its probe listener was
 * down, the machine too busy); the report says why. `lab test` exits 4 then, not 1.
 */
export type CheckStatus = 'passed' | 'failed' | 'skipped' | 'uncertain';

/** What a check found: what it expected, what it saw, and the evidence behind it. */
export interface CheckOutcome {
  status: CheckStatus;
  expected: string;
  seen: string;
  evidence: string[];
  /** Where to look next, when it failed. */
  hint?: string;
  /** What a sampling check probed of what it could have (lab test --exhaustive probes more). */
  coverage?: Coverage;
  /** network-policy: every probe of its truth table, expected against seen. */
  truthTable?: TruthRow[];
}

/** One row of network-policy's truth table. */
export interface TruthRow {
  from: string;
  to: string;
  port: number;
  protocol: 'TCP' | 'UDP';
  expected: 'allowed' | 'denied';
  seen: 'allowed' | 'denied' | 'unknown';
  /** The policies and rules that decide the expected verdict (policy.ts describeVerdict). */
  why: string;
}

export interface CheckResult extends CheckOutcome {
  id: string;
  rule: string;
  durationMs: number;
}

/** What a check may use. */
export interface CheckContext {
  runtime: Runtime;
  state: LabState;
  probes: Probes;
  /** A client outside the cluster on the node network (outside.ts): it fetches node IP URLs. */
  outside: Pick<Outside, 'http'>;
  /** A client in the engine host's own network namespace: it fetches published host ports. */
  engineHost: Pick<Outside, 'http'>;
  /** lab test --exhaustive: every pod to every node and to a pod on every other node; pod-mtu on every node pair. */
  exhaustive?: boolean;
  clock: Clock;
}

/** A conformance check: a stable id, the rule it proves, and how. */
export interface Check {
  id: string;
  rule: string;
  run(ctx: CheckContext): Promise<CheckOutcome>;
}

/** `namespace/name` of a pod. */
export const key = (p: PodState) => `${p.namespace}/${p.name}`;
/**
 * The pods whose network namespace is up, with an address: the ones a check can probe (a pod that
 * ran to completion keeps its sandbox, and so its address and its probe listener).
 */
export const running = (state: LabState) =>
  state.pods.filter((p) => (p.state === 'running' || p.state === 'completed') && p.ip);
/** A passed outcome. */
export const pass = (expected: string, seen: string, evidence: string[] = []): CheckOutcome => ({
  status: 'passed',
  expected,
  seen,
  evidence,
});
/** A failed outcome, with where to look next. */
export const fail = (expected: string, seen: string, evidence: string[], hint?: string): CheckOutcome => ({
  status: 'failed',
  expected,
  seen,
  evidence,
  ...(hint ? { hint } : {}),
});
/** An outcome the check could not decide, for reasons that are not the lab's (`seen` says which). */
export const uncertain = (expected: string, seen: string, evidence: string[] = []): CheckOutcome => ({
  status: 'uncertain',
  expected,
  seen,
  evidence,
  hint: 'nothing points at the lab: run lab test again (on a quieter machine, or with fewer labs at once)',
});
/** A skipped outcome: nothing in this lab to check the rule on, and why. */
export const skip = (expected: string, why: string): CheckOutcome => ({
  status: 'skipped',
  expected,
  seen: why,
  evidence: [],
});

/** The first running pod on each node other than `node`: the peers a source must reach. */
export function peersOffNode(state: LabState, node: string): PodState[] {
  return state.nodes
    .filter((n) => n.name !== node)
    .flatMap((n) =>
      running(state)
        .filter((p) => p.node === n.name)
        .slice(0, 1),
    );
}

/** The node that owns an address: the node itself, or the node whose pod range holds it. */
export function hostOf(state: LabState, ip: string): string | undefined {
  const n = parseIp(ip);
  return (
    state.nodes.find((x) => x.ip === ip)?.name ??
    state.nodes.find((x) => x.podCIDR && n !== undefined && contains(parseCidr(x.podCIDR), n))?.name
  );
}

/**
 * Whether the lab's NetworkPolicies deny a connection the checks would probe (false when the lab has
 * none). FROM and TO are `ns/pod`, `node:NAME` or an address.
 */
export function policyDenies(
  state: LabState,
  from: string,
  to: string,
  port: number,
  protocol: Protocol,
): boolean {
  const view = state.plan?.policy;
  if (!view || view.policies.length === 0) return false;
  const endpoint = (who: string): PolicyEndpoint => {
    const pod = view.pods.find((p) => p.key === who) ?? view.pods.find((p) => p.ip === who);
    if (pod) return { pod };
    const node = state.nodes.find((n) => `node:${n.name}` === who);
    return { ip: node?.ip ?? who };
  };
  return !judge(view, endpoint(from), endpoint(to), port, protocol).allowed;
}

/** The checks' note on what they left out: `; 4 probes the lab's NetworkPolicies deny were not made`. */
export function policyNote(left: number): string {
  return left
    ? `; ${count(left, 'probe')} the lab's NetworkPolicies deny ${left === 1 ? 'was' : 'were'} not made (network-policy judges those)`
    : '';
}

/** An outcome with the policy note added to what it saw. */
export function noting(outcome: CheckOutcome, left: number): CheckOutcome {
  return left ? { ...outcome, seen: `${outcome.seen}${policyNote(left)}` } : outcome;
}

/**
 * Whether traffic from outside the pods (a NodePort or host-port client) into a Service meets a pod
 * that NetworkPolicies isolate for ingress: what such a client is allowed depends on the address
 * it arrives from, which network-policy judges for pods; these checks leave such Services out.
 */
export function isolatedService(state: LabState, service: string): boolean {
  const view = state.plan?.policy;
  if (!view || view.policies.length === 0) return false;
  const svc = state.services.find((s) => s.key === service);
  return (svc?.endpoints ?? []).some((e) => {
    const pod = view.pods.find((p) => p.key === e.pod);
    return pod !== undefined && isolating(view, pod, 'Ingress').length > 0;
  });
}

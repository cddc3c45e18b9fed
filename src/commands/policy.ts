import { resolve } from 'node:path';
import { Lab } from '../api/lab.js';
import type { UpRun } from '../apply/up.js';
import { recordTopology } from '../config/canonical.js';
import { parseTopology } from '../config/load.js';
import type {
  LabelSelector,
  NetworkPolicyConfig,
  PolicyPeer,
  PolicyPort,
  Topology,
} from '../config/types.js';
import { Probes, reached } from '../conformance/probes.js';
import { ExitCode, LabStateError, UsageError } from '../errors.js';
import { parseIp } from '../net/ipv4.js';
import {
  applyPolicies,
  formatRule,
  judge,
  type PolicyEndpoint,
  type PolicyView,
  policyKey,
  rulesOf,
  type SideVerdict,
  selects,
  type Verdict,
} from '../plan/policy.js';
import type { LabPlan } from '../plan/types.js';
import { observeLab } from '../state/observe.js';
import { count } from '../text.js';
import { type CommandContext, labName } from './context.js';
import { table } from './status.js';
import { onSignals } from './up.js';

interface Target {
  lab?: string;
  file?: string;
  /** For the benchmark: wraps the change's actions (to attribute engine calls to them). */
  instrument?: UpRun['instrument'];
}

/** The running lab a policy command works on, with its recorded topology and plan. */
async function runningLab(ctx: CommandContext, options: Target) {
  const name = await labName(ctx, {
    ...(options.lab ? { name: options.lab } : {}),
    ...(options.file ? { file: options.file } : {}),
  });
  const state = await observeLab(ctx.runtime(), name);
  if (!state) throw new LabStateError(`lab ${name} is not up`, 'start it with lab up');
  if (!state.recorded?.ok || !state.plan)
    throw new LabStateError(
      `lab ${name} has no readable topology record${state.recorded && !state.recorded.ok ? `: ${state.recorded.problem}` : ''}`,
      `recreate it: lab down ${name} && lab up`,
    );
  return { name, state, topology: state.recorded.topology, plan: state.plan };
}

/** Reads NetworkPolicy manifests from files (YAML, one or more documents each), validated as in a topology. */
export function readPolicyFiles(files: string[], cwd: string): NetworkPolicyConfig[] {
  const wrapper = {
    apiVersion: 'podlab/v1',
    name: 'policies',
    nodes: [{ name: 'n' }],
    networkPolicies: files.map((f) => resolve(cwd, f)),
  };
  return parseTopology(JSON.stringify(wrapper), resolve(cwd, '(lab policy apply)')).topology.networkPolicies;
}

/** Changes the lab's policies in place (the same path as `lab up` with the changed topology). */
export async function changePolicies(
  ctx: CommandContext,
  topology: Topology,
  policies: NetworkPolicyConfig[],
  instrument?: Target['instrument'],
): Promise<void> {
  const next = parseTopology(
    recordTopology({ ...topology, networkPolicies: policies }),
    resolve(ctx.cwd, `(lab ${topology.name} with its policies changed)`),
  ).topology;
  // As lab up: the first signal stops and rolls back, a second exits at once.
  const abort = new AbortController();
  const stopOnSignal = onSignals(ctx.io, topology.name, abort);
  try {
    await Lab.upTopology(
      next,
      { io: ctx.io, signal: abort.signal, ...(instrument ? { instrument } : {}) },
      { runtime: ctx.runtime(), host: ctx.host, clock: ctx.clock },
    );
  } finally {
    stopOnSignal();
  }
}

/** `lab policy apply FILE…`: adds the files' policies to the running lab, replacing those of the same namespace/name. */
export async function apply(
  ctx: CommandContext,
  files: string[],
  options: Target & { dryRun?: boolean },
): Promise<number> {
  const incoming = readPolicyFiles(files, ctx.cwd);
  const { name, topology } = await runningLab(ctx, options);
  const next = applyPolicies(topology.networkPolicies, incoming);
  const was = new Map(topology.networkPolicies.map((p) => [policyKey(p), JSON.stringify(p)]));
  const lines = incoming.map((p) => {
    const k = policyKey(p);
    return `${!was.has(k) ? 'created' : was.get(k) === JSON.stringify(p) ? 'unchanged' : 'configured'}: networkpolicy ${k}`;
  });
  if (!options.dryRun) await changePolicies(ctx, topology, next, options.instrument);
  ctx.io.out(lines.map((l) => `${l}${options.dryRun ? ' (dry run)' : ''}`).join('\n'));
  if (!options.dryRun)
    ctx.io.out(
      `lab ${name} has ${count(next.length, 'NetworkPolicy', 'NetworkPolicies')} now; lab test ${name} --only network-policy probes them`,
    );
  return ExitCode.ok;
}

/** `lab policy delete NS/NAME…`. */
export async function remove(ctx: CommandContext, keys: string[], options: Target): Promise<number> {
  const { name, topology } = await runningLab(ctx, options);
  const have = new Set(topology.networkPolicies.map(policyKey));
  const wanted = keys.map((k) => (k.includes('/') ? k : `default/${k}`));
  const missing = wanted.filter((k) => !have.has(k));
  if (missing.length)
    throw new UsageError(
      `lab ${name} has no NetworkPolicy ${missing.join(', ')}`,
      have.size ? `its policies: ${[...have].join(', ')}` : 'it has none (lab policy apply FILE adds some)',
    );
  await changePolicies(
    ctx,
    topology,
    topology.networkPolicies.filter((p) => !wanted.includes(policyKey(p))),
    options.instrument,
  );
  ctx.io.out(wanted.map((k) => `deleted: networkpolicy ${k}`).join('\n'));
  return ExitCode.ok;
}

/** `{pod: a}`, `pod in (a,b)`, `all pods`: a selector as kubectl describe shows one. */
export function formatLabelSelector(s: LabelSelector, all = 'all'): string {
  const parts = [
    ...Object.entries(s.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`),
    ...(s.matchExpressions ?? []).map((e) =>
      e.operator === 'Exists'
        ? e.key
        : e.operator === 'DoesNotExist'
          ? `!${e.key}`
          : `${e.key} ${e.operator === 'In' ? 'in' : 'notin'} (${(e.values ?? []).join(',')})`,
    ),
  ];
  return parts.length ? parts.join(',') : all;
}

function formatPeer(p: PolicyPeer): string {
  if (p.ipBlock)
    return `ipBlock ${p.ipBlock.cidr}${p.ipBlock.except?.length ? ` except ${p.ipBlock.except.join(', ')}` : ''}`;
  const pods = p.podSelector ? `pods ${formatLabelSelector(p.podSelector, 'all')}` : 'all pods';
  return p.namespaceSelector
    ? `${pods} in namespaces ${formatLabelSelector(p.namespaceSelector, 'all')}`
    : `${pods} of the policy's namespace`;
}

function formatPort(p: PolicyPort): string {
  return `${p.port === undefined ? 'any port' : p.port}${p.endPort !== undefined ? `-${p.endPort}` : ''}/${p.protocol}`;
}

/** One rule in words: `ingress[0]: from pods pod=b of the policy's namespace; ports 80/TCP`. */
export function describeRule(
  policy: NetworkPolicyConfig,
  direction: 'ingress' | 'egress',
  index: number,
): string {
  const rule = rulesOf(policy, direction)[index] ?? {};
  const peers = rule.peers?.length ? rule.peers.map(formatPeer).join(' OR ') : 'everyone';
  const ports = rule.ports?.length ? rule.ports.map(formatPort).join(', ') : 'every port';
  return `${direction === 'ingress' ? 'from' : 'to'} ${peers}; ${ports}`;
}

/** `lab policy ls`: the lab's policies, what they select and isolate. */
export async function ls(ctx: CommandContext, options: Target & { json?: boolean }): Promise<number> {
  const { name, plan } = await runningLab(ctx, options);
  const view = plan.policy;
  const rows = view.policies.map((p) => {
    const selected = view.pods.filter(
      (pod) => pod.namespace === p.metadata.namespace && selects(p.spec.podSelector, pod.labels),
    );
    return {
      namespace: p.metadata.namespace,
      name: p.metadata.name,
      podSelector: formatLabelSelector(p.spec.podSelector, '(all pods)'),
      policyTypes: p.spec.policyTypes,
      pods: selected.map((s) => s.key),
      ingressRules: p.spec.ingress?.length ?? 0,
      egressRules: p.spec.egress?.length ?? 0,
    };
  });
  if (options.json) {
    ctx.io.out(JSON.stringify({ lab: name, policies: rows, spec: view.policies }, null, 2));
    return ExitCode.ok;
  }
  if (rows.length === 0) {
    ctx.io.out(
      `lab ${name} has no NetworkPolicies: every pod reaches every pod (lab policy apply FILE adds some)`,
    );
    return ExitCode.ok;
  }
  ctx.io.out(
    table(
      ['NAMESPACE', 'NAME', 'POD-SELECTOR', 'TYPES', 'PODS', 'RULES'],
      rows.map((r) => [
        r.namespace,
        r.name,
        r.podSelector,
        r.policyTypes.join(','),
        String(r.pods.length),
        `${r.ingressRules} in, ${r.egressRules} out`,
      ]),
    ).join('\n'),
  );
  return ExitCode.ok;
}

/** A FROM or TO of explain: NS/POD, a node name, or an address. */
function endpointOf(
  view: PolicyView,
  plan: LabPlan,
  text: string,
): { endpoint: PolicyEndpoint; label: string; probeFrom?: string } {
  const pod = view.pods.find((p) => p.key === text || (!text.includes('/') && p.key === `default/${text}`));
  if (pod) return { endpoint: { pod }, label: pod.key, probeFrom: pod.key };
  const node = plan.nodes.find((n) => n.name === text);
  if (node)
    return {
      endpoint: { ip: node.ip },
      label: `node ${node.name} (${node.ip})`,
      probeFrom: `node:${node.name}`,
    };
  if (parseIp(text) !== undefined) {
    const owner = view.pods.find((p) => p.ip === text);
    if (owner) return { endpoint: { pod: owner }, label: `${owner.key} (${text})`, probeFrom: owner.key };
    const host = plan.nodes.find((n) => n.ip === text);
    if (host)
      return { endpoint: { ip: text }, label: `node ${host.name} (${text})`, probeFrom: `node:${host.name}` };
    return { endpoint: { ip: text }, label: text };
  }
  throw new UsageError(
    `${text} is no pod, node or address of lab ${plan.name}`,
    'name a pod as NAMESPACE/POD, a node by its name, or an IPv4 address',
  );
}

/** `80`, `80/TCP`, `53/udp`, `icmp`. */
function parsePort(text: string): { port: number; protocol: 'TCP' | 'UDP' | 'ICMP' } {
  if (/^icmp$/i.test(text)) return { port: 0, protocol: 'ICMP' };
  const m = /^(\d{1,5})(?:\/(tcp|udp))?$/i.exec(text);
  const port = Number(m?.[1]);
  if (!m || port < 1 || port > 65535)
    throw new UsageError(
      `${text} is not a port`,
      'write PORT or PORT/PROTOCOL: 80, 80/TCP, 53/UDP (or icmp)',
    );
  return { port, protocol: (m[2]?.toUpperCase() ?? 'TCP') as 'TCP' | 'UDP' };
}

/** `lab policy explain FROM TO PORT[/PROTO]`: the verdict of the plan, the policies and rules behind it, and with --probe what a packet does. */
export async function explain(
  ctx: CommandContext,
  from: string,
  to: string,
  portText: string,
  options: Target & { probe?: boolean; json?: boolean },
): Promise<number> {
  const { port, protocol } = parsePort(portText);
  const { name, state, plan } = await runningLab(ctx, options);
  const view = plan.policy;
  const source = endpointOf(view, plan, from);
  const dest = endpointOf(view, plan, to);
  const verdict = judge(view, source.endpoint, dest.endpoint, port, protocol);
  let probed: { result: string; agrees: boolean } | undefined;
  if (options.probe) {
    if (!source.probeFrom) throw new UsageError(`--probe needs a pod or node to send from, not ${from}`);
    if (protocol === 'ICMP') throw new UsageError('--probe tries TCP or UDP; name a port');
    const ip = 'pod' in dest.endpoint ? dest.endpoint.pod.ip : dest.endpoint.ip;
    const ownIps = new Set([...plan.nodes.map((n) => n.ip), ...view.pods.map((p) => p.ip)]);
    if (!ownIps.has(ip))
      throw new UsageError(`--probe sends only to the lab's own pods and nodes, not ${ip}`);
    const [r] = await new Probes(ctx.runtime(), state, ctx.clock).connect([
      { from: source.probeFrom, ip, port, protocol, timeout: 3 },
    ]);
    const through = r !== undefined && reached(r);
    probed = {
      result: r?.result ?? 'no-result',
      agrees: (r?.result === 'timeout' && !verdict.allowed) || (through && verdict.allowed),
    };
  }
  if (options.json) {
    ctx.io.out(
      JSON.stringify(
        {
          lab: name,
          from: source.label,
          to: dest.label,
          port,
          protocol,
          ...verdict,
          ...(probed ? { probe: probed } : {}),
        },
        null,
        2,
      ),
    );
  } else {
    ctx.io.out(
      renderExplain(
        view,
        source.label,
        dest.label,
        `${protocol === 'ICMP' ? 'ICMP' : `${port}/${protocol}`}`,
        verdict,
        probed,
      ),
    );
  }
  if (probed && !probed.agrees) return ExitCode.failed;
  return ExitCode.ok;
}

function renderExplain(
  view: PolicyView,
  from: string,
  to: string,
  port: string,
  v: Verdict,
  probed?: { result: string; agrees: boolean },
): string {
  const byKey = new Map(view.policies.map((p) => [policyKey(p), p]));
  const side = (direction: 'ingress' | 'egress', who: string, s: SideVerdict) => {
    const lines = [`  ${direction} of ${who}: ${s.allowed ? 'allowed' : 'DENIED'}`];
    if (s.because) lines.push(`    ${s.because}`);
    if (s.isolatedBy.length) lines.push(`    isolated by ${s.isolatedBy.join(', ')}`);
    for (const r of s.allowedBy)
      lines.push(
        `    allowed by ${formatRule(r)}: ${describeRule(byKey.get(r.policy)!, r.direction, r.rule)}`,
      );
    if (!s.allowed)
      for (const k of s.isolatedBy) {
        const p = byKey.get(k)!;
        const rules = rulesOf(p, direction);
        if (rules.length === 0) lines.push(`    ${k} has no ${direction} rule: it allows nothing`);
        rules.forEach((_, i) => {
          lines.push(`    ${k} ${direction}[${i}] does not match: ${describeRule(p, direction, i)}`);
        });
      }
    return lines;
  };
  return [
    `${from} → ${to} ${port}: ${v.allowed ? 'allowed' : 'denied'}`,
    ...side('egress', from, v.egress),
    ...side('ingress', to, v.ingress),
    ...(probed
      ? [
          `  probe: ${probed.result} (${probed.agrees ? 'as the policies say' : 'NOT as the policies say: the node rules differ from the plan'})`,
        ]
      : []),
  ].join('\n');
}

import { cniConfigPath } from '../plan/names.js';
import { count } from '../text.js';
import {
  type Check,
  type CheckContext,
  type CheckOutcome,
  fail,
  hostOf,
  key,
  noting,
  type PodState,
  pass,
  peersOffNode,
  policyDenies,
  running,
  skip,
  uncertain,
} from './check.js';
import { type Coverage, podPairs, podToNodePairs } from './coverage.js';
import { type HttpResult, parseEcho, probePort } from './probes.js';

/** A failed probe in words: unreachable, or reached but seen from another address. */
function describe(r: HttpResult, wantPeer: string): string {
  if (r.code !== 0)
    return `${r.from} → ${r.url}: ${r.error.replace(/^curl: /, '').trim() || `curl exit ${r.code}`}`;
  const echo = parseEcho(r.body);
  if (!echo) return `${r.from} → ${r.url}: answered, but not with podlab-echo: ${r.body.slice(0, 80)}`;
  return `${r.from} → ${echo.pod} (${r.url}): seen as ${echo.peer}, not ${wantPeer}`;
}

/**
 * Evidence for failed no-NAT probes: for each unreachable peer, `ip route get` on the sender's node
 * and, for the way back, on the node that hosts the peer; for each SNATed one, the NAT rules whose
 * counters moved on the sender's node.
 */
async function natEvidence(
  ctx: CheckContext,
  failures: { node: string; r: HttpResult; target: string; source: string }[],
): Promise<{ evidence: string[]; hint: string }> {
  const evidence: string[] = [];
  let unreachable = false;
  let natted = false;
  const seen = new Set<string>();
  for (const { node, r, target, source } of failures) {
    // One piece of evidence per node and kind of failure (and per unreachable target).
    const what = r.code !== 0 ? `route:${node}:${target}` : `nat:${node}`;
    if (seen.has(what) || seen.size >= 6) continue;
    seen.add(what);
    if (r.code !== 0) {
      unreachable = true;
      evidence.push(
        `on node ${node}: ip route get ${target}\n${await ctx.probes.inNode(node, ['ip', 'route', 'get', target])}`,
      );
      const back = hostOf(ctx.state, target);
      if (back && back !== node) {
        evidence.push(
          `on node ${back}, the way back: ip route get ${source}\n${await ctx.probes.inNode(back, ['ip', 'route', 'get', source])}`,
        );
      }
    } else {
      natted = true;
      const rules = await ctx.probes.inNode(node, [
        'iptables',
        '-t',
        'nat',
        '-L',
        'POSTROUTING',
        '-v',
        '-n',
        '-x',
      ]);
      const moved = rules.split('\n').filter((l) => /MASQUERADE|SNAT|CNI-/.test(l) && /^\s*[1-9]/.test(l));
      evidence.push(
        `on node ${node}: NAT rules whose counters moved (iptables -t nat -L POSTROUTING -v -n -x):\n${moved.join('\n') || '(none)'}`,
      );
    }
  }
  const hint = [
    unreachable
      ? "a route is missing: compare `lab exec NODE -- ip route` with each other node's pod range"
      : '',
    natted
      ? `traffic is masqueraded on its way: look for MASQUERADE/SNAT or CNI-* rules in \`lab exec NODE -- iptables -t nat -S POSTROUTING\` and ipMasq in ${cniConfigPath}`
      : '',
  ]
    .filter(Boolean)
    .join('; ');
  return { evidence, hint };
}

/** One no-NAT probe: from a pod or node (on `node`) to `target`, which must see `peer` as the sender. */
export interface NoNatProbe {
  from: string;
  node: string;
  target: string;
  peer: string;
}

/**
 * The probes that break the rule (pure): unanswered, answered by something other than podlab-echo,
 * or answered seeing another source address than the sender's own.
 */
export function noNatFailures(
  probes: NoNatProbe[],
  results: HttpResult[],
): { r: HttpResult; p: NoNatProbe }[] {
  return results
    .map((r, i) => ({ r, p: probes[i]! }))
    .filter(({ r, p }) => !r.uncertain && (r.code !== 0 || parseEcho(r.body)?.peer !== p.peer));
}

/** Runs probes and judges each by the peer address the echo server saw. */
async function probeNoNat(ctx: CheckContext, expected: string, asked: NoNatProbe[]): Promise<CheckOutcome> {
  // Pairs the lab's NetworkPolicies deny are network-policy's to judge, not this rule's.
  const probes = asked.filter((p) => !policyDenies(ctx.state, p.from, p.target, probePort, 'TCP'));
  return noting(await probeAllowed(ctx, expected, probes), asked.length - probes.length);
}

async function probeAllowed(
  ctx: CheckContext,
  expected: string,
  probes: NoNatProbe[],
): Promise<CheckOutcome> {
  if (probes.length === 0)
    return skip(
      expected,
      'nothing to probe (one node, or no running pods, or every pair denied by NetworkPolicies)',
    );
  const results = await ctx.probes.http(
    probes.map((p) => ({ from: p.from, url: `http://${p.target}:${probePort}/` })),
  );
  const failures = noNatFailures(probes, results);
  const doubts = results.filter((r) => r.uncertain).map((r) => `${r.from} → ${r.url}: ${r.uncertain}`);
  if (failures.length === 0 && doubts.length === 0)
    return pass(
      expected,
      `${probes.length} of ${count(probes.length, 'probe')} answered, each seeing the sender's own address`,
    );
  if (failures.length === 0)
    return uncertain(
      expected,
      `${doubts.length} of ${count(probes.length, 'probe')} could not be decided; every other probe answered, seeing the sender's own address:\n${doubts.join('\n')}`,
    );
  const { evidence, hint } = await natEvidence(
    ctx,
    failures.map(({ r, p }) => ({ node: p.node, r, target: p.target, source: p.peer })),
  );
  return fail(
    expected,
    `${failures.length} of ${count(probes.length, 'probe')} failed:\n${failures.map(({ r, p }) => describe(r, p.peer)).join('\n')}${doubts.length ? `\nand ${doubts.length} could not be decided:\n${doubts.join('\n')}` : ''}`,
    evidence,
    hint,
  );
}

/** An outcome with what its probes covered, also said in its words. */
function withCoverage(outcome: CheckOutcome, coverage: Coverage, pairs: string): CheckOutcome {
  return {
    ...outcome,
    seen: `${outcome.seen} (${coverage.probed} of ${coverage.possible} ${pairs})`,
    coverage,
  };
}

export const podToPodNoNat: Check = {
  id: 'pod-to-pod-no-nat',
  rule: 'every pod reaches a pod on every other node, and is seen there with its own pod IP (no NAT)',
  async run(ctx) {
    const { pairs, coverage } = podPairs(ctx.state, ctx.exhaustive);
    const outcome = await probeNoNat(
      ctx,
      ctx.exhaustive
        ? 'each pod reaches one pod on every other node; the echo server there reports the sender’s pod IP'
        : 'every ordered pair of nodes is crossed, every pod sends and receives across nodes, and one pair inside each node; each receiver reports the sender’s pod IP',
      pairs.map(({ from, to }) => ({ from: key(from), node: from.node, target: to.ip, peer: from.ip })),
    );
    return withCoverage(outcome, coverage, 'ordered pod pairs');
  },
};

export const nodeToPodNoNat: Check = {
  id: 'node-to-pod-no-nat',
  rule: 'every node reaches a pod on every other node, and is seen with its own address (no NAT)',
  run: (ctx) =>
    probeNoNat(
      ctx,
      'each node reaches one pod on every other node; the echo server reports the node’s own address (its node IP; with vxlan, the address of its VXLAN device, as on a flannel node)',
      ctx.state.nodes.flatMap((n) =>
        peersOffNode(ctx.state, n.name).map((t) => ({
          from: `node:${n.name}`,
          node: n.name,
          target: t.ip,
          // Over VXLAN a node's own packets to other nodes' pods leave through its flannel device,
          // from that device's address: the node's own, not a translation.
          peer: ctx.state.plan?.nodes.find((p) => p.name === n.name)?.overlay?.address ?? n.ip,
        })),
      ),
    ),
};

export const podToNodeNoNat: Check = {
  id: 'pod-to-node-no-nat',
  rule: 'every pod reaches every node, and the node sees the pod IP (no NAT)',
  async run(ctx) {
    const { pairs, coverage } = podToNodePairs(ctx.state, ctx.exhaustive);
    const outcome = await probeNoNat(
      ctx,
      ctx.exhaustive
        ? 'each pod reaches every node’s IP; the node’s echo server reports the pod IP'
        : 'every pod reaches a node, and every node is reached from the pods of every node; the node’s echo server reports the pod IP',
      pairs.map(({ from, node }) => ({ from: key(from), node: from.node, target: node.ip, peer: from.ip })),
    );
    return withCoverage(outcome, coverage, 'pod-node pairs');
  },
};

export const selfIpEqualsSeenIp: Check = {
  id: 'self-ip-equals-seen-ip',
  rule: 'the IP a pod sees on its own eth0 is the IP that others see it come from',
  async run(ctx) {
    const expected = 'for each pod, the address on its eth0 equals the source address a peer saw';
    const pods = running(ctx.state);
    const target = (p: PodState) => peersOffNode(ctx.state, p.node)[0] ?? pods.find((o) => o !== p);
    const probes = pods
      .filter((p) => target(p))
      .map((p) => ({ from: key(p), node: p.node, target: target(p)!.ip, peer: p.ip }));
    return probeNoNat(ctx, expected, probes);
  },
};

import type { LabState } from '../state/observe.js';
import { sandboxOf } from '../state/targets.js';
import {
  type Check,
  fail,
  key,
  noting,
  type PodState,
  pass,
  policyDenies,
  policyNote,
  running,
  skip,
} from './check.js';
import type { Coverage } from './coverage.js';
import type { PingResult } from './probes.js';

/** IPv4 and ICMP headers: a ping of payload N makes an IP packet of N + 28 bytes. */
const headers = 28;
/** The smallest MTU every IPv4 path must carry (RFC 791). */
const minimumMtu = 576;
/** The MTU a pod gets when the CNI config names none (the bridge plugin leaves the kernel's). */
const defaultMtu = 1500;

/** The pods' MTU as planned (the CNI config's `mtu`). */
export function plannedPodMtu(state: LabState): number {
  const mtu = state.plan?.nodes[0]?.cniConfig.mtu;
  return typeof mtu === 'number' ? mtu : defaultMtu;
}

/** The address of a pod's gateway (its node's bridge), from the plan; '' when unknown. */
export function gatewayOf(state: LabState, pod: PodState): string {
  return state.plan?.nodes.find((n) => n.name === pod.node)?.podGateway ?? '';
}

/**
 * The pod-mtu pings (pure): one pod on each node that has one. By default each sends to the next
 * node's pod in turn (a ring: every node sends and receives once, and the count grows with the
 * lab, not its square; every node pair crosses the same node network, and pod-to-pod-no-nat
 * crosses each pair); `exhaustive`: to a pod on every other node.
 */
export function mtuPairs(
  state: LabState,
  exhaustive = false,
): { pairs: { from: PodState; to: PodState }[]; coverage: Coverage } {
  const first = new Map<string, PodState>();
  for (const p of running(state)) if (!first.has(p.node)) first.set(p.node, p);
  const pods = [...first.values()];
  const possible = pods.length * (pods.length - 1);
  const pairs =
    pods.length < 2
      ? []
      : exhaustive || pods.length === 2
        ? pods.flatMap((from) => pods.filter((to) => to.node !== from.node).map((to) => ({ from, to })))
        : pods.map((from, i) => ({ from, to: pods[(i + 1) % pods.length]! }));
  return { pairs, coverage: { probed: pairs.length, possible } };
}

/**
 * Judges pod-mtu (pure): a don't-fragment packet of the pod's MTU must arrive (`fits`), and one byte
 * more must not leave the pod (`over`, sent to the pod's own gateway, one hop away: ping must say
 * "message too long" before sending). The gateway, not the far pod: a path MTU that the far path
 * taught the pod earlier would stop the packet in the pod whatever its eth0 takes.
 */
export function judgeMtu(
  mtu: number,
  pairs: { from: PodState; to: PodState }[],
  fits: PingResult[],
  over: PingResult[],
): string[] {
  const problems: string[] = [];
  pairs.forEach(({ from, to }, i) => {
    const f = fits[i]!;
    const o = over[i]!;
    if (f.code !== 0)
      problems.push(
        `${key(from)} → ${key(to)} (${to.ip}): a don't-fragment packet of ${mtu} bytes (the pods' MTU) did not get through${f.output ? `: ${f.output}` : ''}`,
      );
    if (!/too long/i.test(o.output))
      problems.push(
        `${key(from)}: a packet of ${mtu + 1} bytes left the pod (its eth0 takes more than the planned ${mtu})${o.output ? `: ${o.output}` : ''}`,
      );
  });
  return [...new Set(problems)];
}

export const podMtu: Check = {
  id: 'pod-mtu',
  rule: "a pod's MTU fits the path: a don't-fragment packet of its MTU reaches a pod on another node from every node (on every other node with --exhaustive), and one byte more does not leave the pod",
  async run(ctx) {
    const mtu = plannedPodMtu(ctx.state);
    const { pairs: all, coverage } = mtuPairs(ctx.state, ctx.exhaustive);
    // Pings the lab's NetworkPolicies deny (ICMP passes only rules without ports) are left out.
    const pairs = all.filter((p) => !policyDenies(ctx.state, key(p.from), key(p.to), 0, 'ICMP'));
    const left = all.length - pairs.length;
    const expected = `from a pod on each node to a pod on ${ctx.exhaustive ? 'every other node' : 'the next node in turn'}: ${mtu} bytes with don't-fragment arrive, ${mtu + 1} do not leave the pod`;
    if (pairs.length === 0)
      return skip(
        expected,
        left
          ? 'every pair it would ping is denied by the lab’s NetworkPolicies'
          : 'needs running pods on two nodes',
      );
    const ask = (size: number) =>
      ctx.probes.ping(pairs.map((p) => ({ from: key(p.from), ip: p.to.ip, size })));
    // One byte over, once per sending pod, to its own gateway.
    const sources = [...new Set(pairs.map((p) => p.from))];
    const [first, overBySource] = await Promise.all([
      ask(mtu - headers),
      ctx.probes.ping(
        sources.map((from) => ({ from: key(from), ip: gatewayOf(ctx.state, from), size: mtu + 1 - headers })),
      ),
    ]);
    const over = pairs.map((p) => overBySource[sources.indexOf(p.from)]!);
    let fits = first;
    // A lost ping on a busy machine is asked once more before it counts.
    if (fits.some((f) => f.code !== 0)) {
      const again = await ask(mtu - headers);
      fits = fits.map((f, i) => (f.code === 0 ? f : again[i]!));
    }
    const problems = judgeMtu(mtu, pairs, fits, over);
    const sampled = `${coverage.probed} of ${coverage.possible} ordered node pairs`;
    if (problems.length === 0)
      return {
        ...noting(pass(expected, `${sampled}: ${mtu} bytes arrive, ${mtu + 1} stay in the pod`), left),
        coverage,
      };
    const bad = pairs.find((_, i) => fits[i]!.code !== 0 || !/too long/i.test(over[i]!.output)) ?? pairs[0]!;
    return {
      ...fail(
        expected,
        `${problems.join('\n')}\n(${sampled}${policyNote(left)})`,
        [await hopMtus(ctx, bad.from, bad.to), await largest(ctx, bad.from, bad.to, mtu)],
        "compare the MTUs on the way: a pod's must leave room for the tunnel (lab exec NODE -- ip link)",
      ),
      coverage,
    };
  },
};

/** The MTU on each hop of a path: pod eth0, the node's CNI bridge and VXLAN device, node eth0, each end. */
async function hopMtus(ctx: Parameters<Check['run']>[0], from: PodState, to: PodState): Promise<string> {
  const plan = ctx.state.plan;
  const bridge = String(plan?.nodes[0]?.cniConfig.bridge ?? 'cni0');
  const device = plan?.nodes[0]?.overlay?.device;
  const read = async (container: string | undefined, dev: string) =>
    container
      ? (await ctx.runtime.exec(container, ['cat', `/sys/class/net/${dev}/mtu`])).stdout.trim() || '?'
      : '?';
  const sandbox = (p: PodState) => sandboxOf(ctx.state.containers, key(p))?.name;
  const node = (name: string) => ctx.state.nodes.find((n) => n.name === name)?.container;
  const side = async (p: PodState) => {
    const n = node(p.node);
    const hops = [
      `pod ${key(p)} eth0 ${await read(sandbox(p), 'eth0')}`,
      `node ${p.node} ${bridge} ${await read(n, bridge)}`,
      ...(device ? [`${device} ${await read(n, device)}`] : []),
      `eth0 ${await read(n, 'eth0')}`,
    ];
    return hops.join(', ');
  };
  return `MTU on each hop: ${await side(from)} → ${await side(to)}`;
}

/** The largest don't-fragment ping payload that gets from one pod to another, found by halving. */
async function largest(
  ctx: Parameters<Check['run']>[0],
  from: PodState,
  to: PodState,
  mtu: number,
): Promise<string> {
  // A pair with no path at all (a missing route) is no MTU problem: say so, without a search.
  const [small] = await ctx.probes.ping([{ from: key(from), ip: to.ip, size: minimumMtu - headers }]);
  if (small!.code !== 0)
    return `not even a ${minimumMtu}-byte packet got from ${key(from)} to ${key(to)}: that pair has no path at all (${small!.output || `ping exit ${small!.code}`}), which pod-to-pod-no-nat reports too`;
  let low = minimumMtu - headers;
  let high = Math.max(mtu, defaultMtu) - headers + 1;
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    const [r] = await ctx.probes.ping([{ from: key(from), ip: to.ip, size: mid }]);
    if (r!.code === 0) low = mid;
    else high = mid;
  }
  return `the largest packet that got from ${key(from)} to ${key(to)}: ${low + headers} bytes`;
}

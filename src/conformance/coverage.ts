import type { LabState } from '../state/observe.js';
import { type PodState, running } from './check.js';

/** How much of what could be probed a check probed: the JSON report carries it. */
export interface Coverage {
  probed: number;
  possible: number;
}

/** Running pods by node, for the nodes that have any, in node order. */
function podsByNode(state: LabState): [string, PodState[]][] {
  const pods = running(state);
  return state.nodes
    .map((n) => [n.name, pods.filter((p) => p.node === n.name)] as [string, PodState[]])
    .filter(([, mine]) => mine.length > 0);
}

/** Hands out a node's pods in turn, so that each is used before any is used twice. */
function rotation(groups: [string, PodState[]][]) {
  const next = new Map(groups.map(([n]) => [n, 0]));
  const pods = new Map(groups);
  return (node: string): PodState => {
    const mine = pods.get(node)!;
    const i = next.get(node)!;
    next.set(node, i + 1);
    return mine[i % mine.length]!;
  };
}

/**
 * Pod-to-pod probes (pure). By default a set that grows with the lab, not its square, and still
 * meets every rule: every ordered pair of nodes is crossed by at least one probe, every pod is a
 * source and a destination at least once across nodes, and each node with two pods has one
 * same-node pair. `exhaustive`: every pod to one pod on every other node (the old every-pair run).
 */
export function podPairs(
  state: LabState,
  exhaustive = false,
): { pairs: { from: PodState; to: PodState }[]; coverage: Coverage } {
  const groups = podsByNode(state);
  const total = groups.reduce((n, [, p]) => n + p.length, 0);
  const possible = total * (total - 1);
  if (exhaustive) {
    const pairs = groups.flatMap(([node, pods]) =>
      pods.flatMap((from) =>
        groups.filter(([n]) => n !== node).map(([, others]) => ({ from, to: others[0]! })),
      ),
    );
    return { pairs, coverage: { probed: pairs.length, possible } };
  }
  const source = rotation(groups);
  const target = rotation(groups);
  const pairs: { from: PodState; to: PodState }[] = [];
  const sent = new Set<PodState>();
  const got = new Set<PodState>();
  const add = (from: PodState, to: PodState) => {
    pairs.push({ from, to });
    sent.add(from);
    got.add(to);
  };
  const names = groups.map(([n]) => n);
  for (const a of names) for (const b of names) if (a !== b) add(source(a), target(b));
  // Pods not yet a source (or a destination) across nodes: to (from) the other nodes in turn.
  if (names.length > 1) {
    let turn = 0;
    const other = (node: string) => {
      const rest = names.filter((n) => n !== node);
      return rest[turn++ % rest.length]!;
    };
    for (const [node, pods] of groups) for (const p of pods) if (!sent.has(p)) add(p, target(other(node)));
    for (const [node, pods] of groups) for (const p of pods) if (!got.has(p)) add(source(other(node)), p);
  }
  // One pair inside each node with two pods: the bridge path, no routing.
  for (const [, pods] of groups) if (pods.length > 1) add(pods[0]!, pods[1]!);
  return { pairs, coverage: { probed: pairs.length, possible } };
}

/**
 * Pod-to-node probes (pure). By default every pod reaches one node, and every ordered pair of nodes
 * (a pod's node to a node, its own included) is crossed once; `exhaustive`: every pod to every node.
 */
export function podToNodePairs(
  state: LabState,
  exhaustive = false,
): { pairs: { from: PodState; node: LabState['nodes'][number] }[]; coverage: Coverage } {
  const groups = podsByNode(state);
  const nodes = state.nodes;
  const total = groups.reduce((n, [, p]) => n + p.length, 0);
  const possible = total * nodes.length;
  if (exhaustive) {
    const pairs = groups.flatMap(([, pods]) => pods.flatMap((from) => nodes.map((node) => ({ from, node }))));
    return { pairs, coverage: { probed: pairs.length, possible } };
  }
  const source = rotation(groups);
  const pairs: { from: PodState; node: LabState['nodes'][number] }[] = [];
  const sent = new Set<PodState>();
  for (const [a] of groups)
    for (const node of nodes) {
      const from = source(a);
      pairs.push({ from, node });
      sent.add(from);
    }
  let turn = 0;
  for (const [, pods] of groups)
    for (const from of pods) if (!sent.has(from)) pairs.push({ from, node: nodes[turn++ % nodes.length]! });
  return { pairs, coverage: { probed: pairs.length, possible } };
}

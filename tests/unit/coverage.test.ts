import test from 'ava';
import { parseSteps } from '../../src/agent/agent.js';
import { podPairs, podToNodePairs } from '../../src/conformance/coverage.js';
import { mtuPairs } from '../../src/conformance/mtu.js';
import type { LabState, PodState } from '../../src/state/observe.js';

/** A lab state with `counts[i]` running pods on node i (only what the selection reads). */
function lab(counts: number[]): LabState {
  const nodes = counts.map((_, i) => ({
    name: `n${i}`,
    ip: `172.31.0.${i + 2}`,
    podCIDR: '',
    container: `c${i}`,
    state: 'running',
  }));
  const pods: PodState[] = counts.flatMap((c, i) =>
    Array.from({ length: c }, (_, j) => ({
      namespace: 'default',
      name: `p${i}-${j}`,
      node: `n${i}`,
      ip: `10.0.${i}.${j + 2}`,
      labels: {},
      containers: [],
      containerStates: [],
      state: 'running',
    })),
  );
  return { name: 'x', nodes, pods } as unknown as LabState;
}

const name = (p: PodState) => p.name;

test('pod-to-pod by default: every ordered node pair, every pod sending and receiving across nodes, one pair inside each node', (t) => {
  for (const counts of [[1, 1], [3, 1, 2], [4, 4, 4, 4], [9, 0, 1, 5], Array.from({ length: 30 }, () => 3)]) {
    const state = lab(counts);
    const { pairs, coverage } = podPairs(state);
    const across = pairs.filter((p) => p.from.node !== p.to.node);
    const nodes = state.nodes.filter((n) => state.pods.some((p) => p.node === n.name)).map((n) => n.name);
    for (const a of nodes)
      for (const b of nodes)
        if (a !== b)
          t.true(
            across.some((p) => p.from.node === a && p.to.node === b),
            `${counts}: ${a} → ${b}`,
          );
    if (nodes.length > 1)
      for (const p of state.pods) {
        t.true(
          across.some((x) => x.from === p),
          `${counts}: ${p.name} sends`,
        );
        t.true(
          across.some((x) => x.to === p),
          `${counts}: ${p.name} receives`,
        );
      }
    for (const n of nodes)
      if (state.pods.filter((p) => p.node === n).length > 1)
        t.true(
          pairs.some((p) => p.from.node === n && p.to.node === n),
          `${counts}: inside ${n}`,
        );
    t.is(coverage.probed, pairs.length);
    t.is(coverage.possible, state.pods.length * (state.pods.length - 1));
  }
});

test('the default grows with the lab, not its square: at 30 nodes of 3 pods it is nodes² plus one pair per node, not pods × nodes', (t) => {
  const big = lab(Array.from({ length: 30 }, () => 3));
  const { pairs } = podPairs(big);
  const exhaustive = podPairs(big, true).pairs;
  t.is(exhaustive.length, 90 * 29, 'every pod to one pod on every other node, as before');
  t.is(pairs.length, 30 * 29 + 30, 'every ordered node pair once, one pair inside each node');
  const twoNodes = lab([40, 40]);
  t.is(
    podPairs(twoNodes).pairs.length,
    2 + 39 + 39 + 2,
    'each pod beyond the node pairs sends once, and so every pod receives',
  );
});

test('pod-to-node by default: every pod reaches a node, every node is reached from every node’s pods', (t) => {
  const state = lab([3, 1, 2]);
  const { pairs, coverage } = podToNodePairs(state);
  for (const a of ['n0', 'n1', 'n2'])
    for (const b of ['n0', 'n1', 'n2'])
      t.true(
        pairs.some((p) => p.from.node === a && p.node.name === b),
        `${a} → ${b}`,
      );
  for (const p of state.pods)
    t.true(
      pairs.some((x) => x.from === p),
      `${name(p)} sends`,
    );
  t.deepEqual(coverage, { probed: pairs.length, possible: 6 * 3 });
  t.is(podToNodePairs(state, true).pairs.length, 18);
});

test('pod-mtu by default: a ring of nodes, each sends and receives once; every ordered pair with --exhaustive', (t) => {
  for (const counts of [[1, 1], [2, 0, 3], [1, 1, 1, 1, 1], Array.from({ length: 60 }, () => 3)]) {
    const state = lab(counts);
    const withPods = counts.filter((c) => c > 0).length;
    const { pairs, coverage } = mtuPairs(state);
    const senders = pairs.map((p) => p.from.node);
    const receivers = pairs.map((p) => p.to.node);
    t.is(new Set(senders).size, withPods, `every node with pods sends (${counts.length} nodes)`);
    t.is(new Set(receivers).size, withPods, 'and receives');
    t.true(
      pairs.every((p) => p.from.node !== p.to.node),
      'always across nodes',
    );
    t.is(pairs.length, withPods === 2 ? 2 : withPods, 'grows with the nodes, not their square');
    t.deepEqual(coverage, { probed: pairs.length, possible: withPods * (withPods - 1) });
    const all = mtuPairs(state, true);
    t.is(all.pairs.length, withPods * (withPods - 1));
  }
  t.deepEqual(mtuPairs(lab([3])).pairs, [], 'one node: nothing to cross');
});

test('agentTogether output splits into each step’s output, stderr and exit code, whatever the steps print', (t) => {
  const text = [
    '',
    '@@podlab-step 0 0@@',
    'a\tline\n{"json":1}',
    '@@podlab-stderr 0@@',
    '',
    '@@podlab-step 1 3@@',
    'no newline at the end',
    '@@podlab-stderr 1@@',
    'boom',
  ].join('\n');
  t.deepEqual(parseSteps(text, 3), [
    { code: 0, stdout: 'a\tline\n{"json":1}', stderr: '' },
    { code: 3, stdout: 'no newline at the end', stderr: 'boom' },
    undefined,
  ]);
});

import test from 'ava';
import up from '../../src/commands/up.js';
import { parseTopology } from '../../src/config/load.js';
import { RuntimeError } from '../../src/errors.js';
import { Label } from '../../src/labels.js';
import { describeDiff, diffIsEmpty, diffPlans, routeChanges } from '../../src/plan/diff.js';
import { reloadServiceRules } from '../../src/plan/kube-proxy.js';
import type { LabPlan } from '../../src/plan/types.js';
import { observeLab } from '../../src/state/observe.js';
import { testContext, writeTopology } from '../helpers/context.js';
import { FakeRuntime } from '../helpers/fake-runtime.js';
import { planOfText } from '../helpers/plan.js';

process.setMaxListeners(32);

/** A lab of three nodes, a Service with a named port, and pods spread round-robin. */
const base = `apiVersion: podlab/v1
name: morph
cluster: {nodeSubnet: 172.31.92.0/24, podCIDR: 10.60.0.0/16, serviceCIDR: 10.100.0.0/16, domain: morph.test}
dns: {clusterIP: 10.100.0.10}
nodes: [{name: n1}, {name: n2}, {name: n3}]
pods:
  - {name: web, replicas: 3, labels: {app: web}, containers: [{name: s, command: [podlab-echo], ports: [{name: http, containerPort: 8080}]}]}
  - {name: tool}
services:
  - {name: web, type: NodePort, selector: {app: web}, ports: [{name: http, port: 80, targetPort: http}]}
  - {name: other, selector: {app: none}, ports: [{port: 81, targetPort: 81}]}
`;

const _topo = (text: string) => parseTopology(text, 'test.yaml').topology;
const planOf = (text: string, previous?: LabPlan) => planOfText(text, '172.31.92.0/24', previous);

const where = (plan: LabPlan) => Object.fromEntries(plan.pods.map((p) => [p.key, `${p.node} ${p.ip}`]));

test('planned with its own allocation, a lab plans exactly as before: nothing to change', (t) => {
  const from = planOf(base);
  const again = planOf(base, from);
  t.deepEqual(again, from);
  t.true(diffIsEmpty(diffPlans(from, again)));
});

test('a pod added at the top of the file moves no other pod, address, ClusterIP or NodePort', (t) => {
  const from = planOf(base);
  const text = base.replace(
    'pods:\n',
    'pods:\n  - {name: first, labels: {app: web}, containers: [{name: s, command: [podlab-echo], ports: [{name: http, containerPort: 8080}]}]}\n',
  );
  const to = planOf(text, from);
  const fresh = planOf(text);
  t.not(where(fresh)['default/web-0'], where(from)['default/web-0'], 'planned afresh, the pods would move');
  for (const [key, at] of Object.entries(where(from))) t.is(where(to)[key], at, key);
  t.deepEqual(
    to.services.map((s) => [s.key, s.clusterIP, s.ports.map((p) => p.nodePort)]),
    from.services.map((s) => [s.key, s.clusterIP, s.ports.map((p) => p.nodePort)]),
  );
  const diff = diffPlans(from, to);
  t.deepEqual(diff.pods, { added: ['default/first'], removed: [], replaced: [] });
  t.deepEqual(diff.nodes, { added: [], removed: [] });
  t.deepEqual(diff.services.changed, ['default/web'], 'a new endpoint');
  t.true(diff.rules);
  t.deepEqual(diff.containers, [
    { pod: 'kube-system/kube-dns-0', added: [], removed: [], replaced: ['dnsmasq'] },
  ]);
  t.deepEqual(diff.routes, {}, 'no route changes');
  t.deepEqual(diff.refused, []);
});

test('a node added takes the next address and pod range; the others only gain a route to it', (t) => {
  const from = planOf(base);
  const to = planOf(base.replace('{name: n3}]', '{name: n3}, {name: n4}]'), from);
  const diff = diffPlans(from, to);
  const n4 = to.nodes.find((n) => n.name === 'n4')!;
  t.is(n4.ip, '172.31.92.5');
  t.is(n4.podCIDR, '10.60.3.0/24');
  t.deepEqual(diff.nodes, { added: ['n4'], removed: [] });
  t.deepEqual(diff.pods, { added: [], removed: [], replaced: [] }, 'no pod moves to the new node');
  t.false(diff.rules);
  t.deepEqual(diff.routes, {
    n1: ['route replace 10.60.3.0/24 via 172.31.92.5'],
    n2: ['route replace 10.60.3.0/24 via 172.31.92.5'],
    n3: ['route replace 10.60.3.0/24 via 172.31.92.5'],
  });
  t.deepEqual(describeDiff(diff, from, to), [
    '+ node n4: 172.31.92.5, pods 10.60.3.0/24',
    '~ routes: changed on n1, n2, n3',
  ]);
});

test('a node removed: its pods are placed again, the others lose the route, and it keeps no address', (t) => {
  const from = planOf(base);
  const to = planOf(base.replace(', {name: n3}]', ']'), from);
  const diff = diffPlans(from, to);
  const onN3 = from.pods.filter((p) => p.node === 'n3').map((p) => p.key);
  t.true(onN3.length > 0);
  t.deepEqual(diff.nodes, { added: [], removed: ['n3'] });
  t.deepEqual(diff.pods.replaced, onN3);
  t.deepEqual(diff.routes.n1, ['route replace 10.60.2.0/24 dev eth0', 'route del 10.60.2.0/24']);
  // A node added next takes the freed address again, and its range.
  const back = planOf(base.replace('{name: n3}]', '{name: n5}]'), to);
  t.is(back.nodes.find((n) => n.name === 'n5')!.ip, '172.31.92.4');
});

test('a Service port changed, a Service removed: rules reload, stale chains go, DNS restarts only for records', (t) => {
  const from = planOf(base);
  const portOnly = planOf(base.replace('port: 81, targetPort: 81', 'port: 82, targetPort: 81'), from);
  const diff = diffPlans(from, portOnly);
  t.deepEqual(diff.services.changed, ['default/other']);
  t.true(diff.rules);
  t.deepEqual(diff.containers, [], 'an unnamed port has no DNS record: the DNS server stays');
  t.deepEqual(diff.routes, {});

  const named = diffPlans(from, planOf(base.replace('name: http, port: 80', 'name: http, port: 8080'), from));
  t.deepEqual(
    named.containers.map((c) => c.pod),
    ['kube-system/kube-dns-0'],
    'its SRV record changes',
  );

  const gone = planOf(base.replace(/ {2}- \{name: web, type: NodePort.*\n/, ''), from);
  const removal = diffPlans(from, gone);
  t.deepEqual(removal.services.removed, ['default/web']);
  const rules = reloadServiceRules(from.serviceRules, gone.serviceRules);
  const stale = [...from.serviceRules.matchAll(/^:(KUBE-(?:SVC|SEP|EXT)-\S+)/gm)]
    .map((m) => m[1]!)
    .filter((chain) => !gone.serviceRules.includes(`:${chain} `));
  t.true(stale.length > 0);
  for (const chain of stale) t.regex(rules, new RegExp(`^-X ${chain}$`, 'm'));
  t.is(rules.split('COMMIT').length, 3, 'still two tables');
  t.true(removal.routes.n1!.includes('route del 10.100.0.2/32'), "the node's route to its ClusterIP goes");
});

test('fields a running lab cannot change are refused by name, with both values', (t) => {
  const from = planOf(base);
  const changed = (text: string) => diffPlans(from, planOf(text, from)).refused;
  t.deepEqual(changed(base.replace('domain: morph.test', 'domain: other.test')), [
    { field: 'cluster.domain', from: 'morph.test', to: 'other.test' },
  ]);
  t.deepEqual(
    changed(base.replace('{name: n2}', '{name: n2, podCIDR: 10.60.9.0/24}')).map((r) => r.field),
    ['nodes[1].podCIDR'],
  );
  t.deepEqual(
    changed(base.replace('nodes: [{name: n1}, ', 'nodes: [')).map((r) => r.field),
    ['nodes'],
    'the DNS node holds the exercise progress',
  );
  t.deepEqual(changed(base.replace('dns: {clusterIP: 10.100.0.10}', 'dns: {clusterIP: 10.100.0.53}')), [
    { field: 'dns.clusterIP', from: '10.100.0.10', to: '10.100.0.53' },
  ]);
});

test('route changes remove what is gone in a way that succeeds whether it is there or not', (t) => {
  t.deepEqual(
    routeChanges(
      [
        'route replace 10.1.0.0/24 via 1.1.1.2',
        'route replace 10.9.0.5/32 dev eth0',
        'route replace unreachable 10.0.0.0/8',
      ],
      ['route replace 10.1.0.0/24 via 1.1.1.3', 'route replace unreachable 10.0.0.0/8'],
    ),
    ['route replace 10.9.0.5/32 dev eth0', 'route del 10.9.0.5/32', 'route replace 10.1.0.0/24 via 1.1.1.3'],
  );
});

/** Container IDs by name. */
const ids = (runtime: FakeRuntime) =>
  new Map(
    [...runtime.containers.values()]
      .filter((c) => c.labels[Label.role] !== 'record')
      .map((c) => [c.name, c.id]),
  );

test('lab up applies a changed file in place: only the affected containers are new, and the lab is healthy', async (t) => {
  const runtime = new FakeRuntime();
  t.is(await up(testContext(runtime), { file: writeTopology(base) }), 0);
  const steps = [
    base.replace('port: 81, targetPort: 81', 'port: 82, targetPort: 81'),
    base.replace('  - {name: tool}\n', '  - {name: tool}\n  - {name: added, node: n2}\n'),
    base.replace('  - {name: tool}\n', ''),
    base.replace('{name: n3}]', '{name: n3}, {name: n4}]'),
  ];
  const expectNew = [
    [],
    [
      'podlab-morph-default.added',
      'podlab-morph-default.added.main',
      'podlab-morph-kube-system.kube-dns-0.dnsmasq',
    ],
    ['podlab-morph-kube-system.kube-dns-0.dnsmasq'],
    // …and puts back the pod that step 3 removed.
    [
      'podlab-morph-n4',
      'podlab-morph-default.tool',
      'podlab-morph-default.tool.main',
      'podlab-morph-kube-system.kube-dns-0.dnsmasq',
    ],
  ];
  let generation = 0;
  for (const [i, text] of steps.entries()) {
    // Each step starts from the base lab, so steps 3 and 4 also undo the one before.
    const before = ids(runtime);
    const ctx = testContext(runtime);
    t.is(await up(ctx, { file: writeTopology(text) }), 0, ctx.err.join('\n'));
    const after = ids(runtime);
    const fresh = [...after].filter(([name, id]) => before.get(name) !== id).map(([name]) => name);
    const undo = i === 2 ? ['podlab-morph-default.added', 'podlab-morph-default.added.main'] : [];
    t.deepEqual(fresh.sort(), expectNew[i]!.sort(), `step ${i + 1}: new containers`);
    t.deepEqual(
      [...before.keys()].filter((name) => !after.has(name)).sort(),
      [...(i === 2 ? ['podlab-morph-default.tool', 'podlab-morph-default.tool.main'] : []), ...undo].sort(),
      `step ${i + 1}: removed containers`,
    );
    const state = (await observeLab(runtime, 'morph'))!;
    t.deepEqual(state.problems, [], `step ${i + 1}`);
    t.is(state.generation, ++generation);
    const records = [...runtime.containers.values()].filter((c) => c.labels[Label.role] === 'record');
    t.deepEqual(
      records.map((r) => r.name),
      [`podlab-morph_record-${generation}`],
      'one record, the newest',
    );
    t.is(state.recorded?.ok && state.recorded.hash, state.plan!.topologyHash);
  }
  // Back to the file it started from: recognised as that lab once more.
  const again = testContext(runtime);
  t.is(await up(again, { file: writeTopology(steps[3]!) }), 0);
  t.regex(again.err.join('\n'), /already up; nothing to do/);
});

test('a change that fails is rolled back: the lab is the one before, with its record', async (t) => {
  const runtime = new FakeRuntime();
  t.is(await up(testContext(runtime), { file: writeTopology(base) }), 0);
  const before = (await observeLab(runtime, 'morph'))!;
  const names = () => [...ids(runtime).keys()].sort();
  const had = names();
  runtime.failOn = (call) =>
    call.method === 'exec' && call.args?.[1] === 'ready' && call.args[2] !== before.topologyHash
      ? new RuntimeError('injected')
      : undefined;
  const ctx = testContext(runtime);
  const changed = base.replace('  - {name: tool}\n', '  - {name: tool, node: n3}\n  - {name: more}\n');
  await t.throwsAsync(up(ctx, { file: writeTopology(changed) }), { message: /injected/ });
  t.regex(ctx.err.join('\n'), /lab morph is back as it was before this change/);
  runtime.failOn = undefined;
  t.deepEqual(names(), had);
  const after = (await observeLab(runtime, 'morph'))!;
  t.deepEqual(after.problems, []);
  t.is(after.topologyHash, before.topologyHash);
  t.is(after.generation, 0);
  t.deepEqual(
    after.pods.map((p) => [p.name, p.node, p.ip]),
    before.pods.map((p) => [p.name, p.node, p.ip]),
  );
});

test('lab up --dry-run prints the diff and changes nothing; --json gives it to a script', async (t) => {
  const runtime = new FakeRuntime();
  t.is(await up(testContext(runtime), { file: writeTopology(base) }), 0);
  const calls = runtime.calls.length;
  const file = writeTopology(base.replace('{name: n3}]', '{name: n3}, {name: n4}]'));
  const ctx = testContext(runtime);
  t.is(await up(ctx, { file, dryRun: true }), 0);
  t.is(
    ctx.out.join('\n'),
    'lab up would change lab morph in place:\n  + node n4: 172.31.92.5, pods 10.60.3.0/24\n  ~ routes: changed on n1, n2, n3',
  );
  const json = testContext(runtime);
  t.is(await up(json, { file, dryRun: true, json: true }), 0);
  const doc = JSON.parse(json.out.join('\n')) as { action: string; changes: { nodes: { added: string[] } } };
  t.is(doc.action, 'change');
  t.deepEqual(doc.changes.nodes.added, ['n4']);
  t.false(
    runtime.calls
      .slice(calls)
      .some(
        (c) =>
          ['runContainer', 'removeContainer', 'createContainer'].includes(c.method) ||
          (c.method === 'exec' && c.args?.[1] !== 'pods'),
      ),
  );
});

test('a record container edited by hand is reported, not trusted, and lab up refuses to touch the lab', async (t) => {
  const runtime = new FakeRuntime();
  t.is(await up(testContext(runtime), { file: writeTopology(base) }), 0);
  const changed = base.replace('  - {name: tool}\n', '  - {name: tool}\n  - {name: more}\n');
  t.is(await up(testContext(runtime), { file: writeTopology(changed) }), 0);
  const record = [...runtime.containers.values()].find((c) => c.labels[Label.role] === 'record')!;
  record.labels = {
    ...record.labels,
    [Label.allocation]: record.labels[Label.allocation]!.replace('"10.60.', '"10.61.'),
  };
  const state = (await observeLab(runtime, 'morph'))!;
  t.deepEqual(state.problems, [
    `the label io.podlab.allocation of container ${record.name} is missing, not an allocation, or does not match its hash`,
  ]);
  const calls = runtime.calls.length;
  await t.throwsAsync(up(testContext(runtime), { file: writeTopology(changed) }), {
    message: /lab morph is up, but the label io\.podlab\.allocation of container podlab-morph_record-1/,
  });
  t.false(
    runtime.calls.slice(calls).some((c) => c.method === 'removeContainer' || c.method === 'runContainer'),
  );
});

test('a Service added: each node gets its route and the rules in one exec; only the DNS server is new', async (t) => {
  const runtime = new FakeRuntime();
  t.is(await up(testContext(runtime), { file: writeTopology(base) }), 0);
  const before = ids(runtime);
  const calls = runtime.calls.length;
  const added = `${base}  - {name: extra, selector: {app: none}, ports: [{port: 90, targetPort: 90}]}\n`;
  t.is(await up(testContext(runtime), { file: writeTopology(added) }), 0);
  const configure = runtime.calls.slice(calls).filter((c) => c.method === 'exec' && c.args?.[0] === 'sh');
  t.deepEqual(configure.map((c) => c.target).sort(), [
    'podlab-morph-n1',
    'podlab-morph-n2',
    'podlab-morph-n3',
  ]);
  for (const c of configure) {
    t.is(
      c.args![2],
      'PODLAB_INPUT=$PODLAB_STEP_0 podlab-agent ip-batch && PODLAB_INPUT=$PODLAB_STEP_1 podlab-agent iptables',
    );
    t.is(c.env!.PODLAB_STEP_0, 'route replace 10.100.0.4/32 dev eth0');
    t.regex(c.env!.PODLAB_STEP_1!, /default\/extra has no endpoints/);
  }
  const after = ids(runtime);
  t.deepEqual(
    [...after].filter(([name, id]) => before.get(name) !== id).map(([name]) => name),
    ['podlab-morph-kube-system.kube-dns-0.dnsmasq'],
    'for the A record of the new Service',
  );
});

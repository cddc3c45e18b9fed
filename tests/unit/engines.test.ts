import test from 'ava';
import { swarmProblem } from '../../src/apply/swarm.js';
import { parseTopology } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { Label } from '../../src/labels.js';
import { LabRuntime } from '../../src/runtime/lab-runtime.js';
import type { SwarmInfo } from '../../src/runtime/runtime.js';
import { FakeRuntime } from '../helpers/fake-runtime.js';
import { planOfText } from '../helpers/plan.js';

const spanning = `apiVersion: podlab/v1
name: span
engines:
  - {name: a}
  - {name: b, host: 'ssh://lab@10.0.0.12'}
nodes:
  - {name: n1}
  - {name: n2, engine: b}
pods:
  - {name: p, node: n2}
`;

test('engines: names, addresses and references are checked, with positions', (t) => {
  const bad = `apiVersion: podlab/v1
name: span
engines:
  - {name: a}
  - {name: a, host: 'ftp://x'}
  - {name: c}
  - {name: d, host: 'unix:///run/x.sock', tls: true}
nodes:
  - {name: n1}
  - {name: n2, engine: zz}
`;
  const error = t.throws(() => parseTopology(bad, 'test.yaml'), { instanceOf: ConfigError });
  const text = error!.message;
  t.regex(text, /engines\[1\]\.name: engine a is listed twice/);
  t.regex(text, /"ftp:\/\/x" is not an engine address/);
  t.regex(text, /only one may leave host out/);
  t.regex(text, /tls and certPath go with a tcp:\/\/ host/);
  t.regex(text, /nodes\[1\]\.engine: unknown engine "zz"; engines are a, a, c, d \(test\.yaml:10:\d+\)/);
  const none = t.throws(() =>
    parseTopology('apiVersion: podlab/v1\nname: x\nnodes: [{name: n1, engine: b}]\n', 'test.yaml'),
  );
  t.regex(none!.message, /names engine "b", but the topology lists no engines/);
});

test('a lab on two engines plans an attachable overlay, its own range for the engines, MTU 1450 and engine labels', (t) => {
  const plan = planOfText(spanning, '172.31.79.0/24');
  t.is(plan.network.driver, 'overlay');
  t.is(plan.network.ipRange, '172.31.79.192/27');
  t.is(plan.nodes[0]!.container.labels[Label.engine], 'a');
  t.is(plan.nodes[1]!.container.labels[Label.engine], 'b');
  t.is(plan.pods.find((p) => p.key === 'default/p')!.sandbox.labels[Label.engine], 'b');
  t.deepEqual(JSON.parse(plan.network.labels[Label.engines]!), [
    { name: 'a' },
    { name: 'b', host: 'ssh://lab@10.0.0.12' },
  ]);
  t.is(plan.nodes[0]!.cniConfig.mtu, 1450);
  // Every address the plan hands out stays below the engines' own range.
  t.true(plan.nodes.every((n) => Number(n.ip.split('.')[3]) < 192));
  const vxlan = planOfText(
    spanning.replace('name: span\n', 'name: span\ncni: {backend: vxlan}\n'),
    '172.31.79.0/24',
  );
  t.is(vxlan.nodes[0]!.cniConfig.mtu, 1400);
  t.is(vxlan.nodes[0]!.overlay!.mtu, 1400);
});

test('engines listed with every node on one: no swarm, a bridge network, the same hash as without an engine list', (t) => {
  const one = planOfText(spanning.replace('{name: n2, engine: b}', '{name: n2}'), '172.31.79.0/24');
  t.is(one.network.driver, undefined);
  t.is(one.nodes[0]!.cniConfig.mtu, undefined);
  const plain = planOfText('apiVersion: podlab/v1\nname: span\nnodes: [{name: n1}]\n', '172.31.79.0/24');
  const empty = planOfText(
    'apiVersion: podlab/v1\nname: span\nengines: []\nnodes: [{name: n1}]\n',
    '172.31.79.0/24',
  );
  t.is(plain.topologyHash, empty.topologyHash);
});

const swarm = (over: Partial<SwarmInfo>): SwarmInfo => ({
  state: 'active',
  manager: false,
  clusterId: '',
  nodeId: 'x',
  address: '10.0.0.11',
  managers: ['10.0.0.11:2377'],
  ...over,
});
const info = (s: SwarmInfo) => ({ operatingSystem: '', securityOptions: [], kernelVersion: '', swarm: s });

test('swarm: one swarm with a manager passes; otherwise each engine’s state and the commands that fix it', (t) => {
  const a = { name: 'a', address: 'unix:///a.sock', info: info(swarm({ manager: true })) };
  const b = { name: 'b', address: 'ssh://b', info: info(swarm({ address: '10.0.0.12' })) };
  t.is(swarmProblem([a, b]), undefined);
  const outside = { ...b, info: info(swarm({ state: 'inactive', managers: [] })) };
  const p = swarmProblem([a, outside])!;
  t.regex(p.message, /engine b \(ssh:\/\/b\) is in no swarm \(inactive\)/);
  t.regex(
    p.hint,
    /docker -H ssh:\/\/b swarm join --token \$\(docker -H unix:\/\/\/a\.sock swarm join-token -q worker\) 10\.0\.0\.11:2377/,
  );
  const noManager = swarmProblem([{ ...a, info: info(swarm({})) }, b])!;
  t.regex(noManager.hint, /swarm init --advertise-addr 10\.0\.0\.11/);
  const other = swarmProblem([a, { ...b, info: info(swarm({ managers: ['10.9.9.9:2377'] })) }])!;
  t.regex(other.hint, /docker -H ssh:\/\/b swarm leave && /);
  const down = swarmProblem([a, { name: 'b', address: 'ssh://b', error: 'connect ECONNREFUSED' }])!;
  t.regex(down.message, /engine b \(ssh:\/\/b\) does not answer: connect ECONNREFUSED/);
});

/** A LabRuntime over fakes: the CLI's engine, and engines a and b. */
function fakes() {
  const own = new FakeRuntime();
  const byHost = new Map<string, FakeRuntime>([['unix:///b.sock', new FakeRuntime()]]);
  const runtime = new LabRuntime(own, 'unix:///own.sock', (config) => {
    if (!config.host) return { address: 'unix:///own.sock', runtime: own };
    return { address: config.host, runtime: byHost.get(config.host)! };
  });
  return { own, b: byHost.get('unix:///b.sock')!, runtime };
}

test('the lab runtime puts each container on its engine and finds it there; listings learn the lab’s engines', async (t) => {
  const { own, b, runtime } = fakes();
  const plan = planOfText(
    spanning.replace("host: 'ssh://lab@10.0.0.12'", "host: 'unix:///b.sock'"),
    '172.31.79.0/24',
  );
  runtime.useEngines([{ name: 'a' }, { name: 'b', host: 'unix:///b.sock' }], 'span');
  for (const n of plan.nodes) await runtime.runContainer(n.container);
  t.deepEqual(
    [...own.containers.values()].map((c) => c.name),
    ['podlab-span-n1'],
  );
  t.deepEqual(
    [...b.containers.values()].map((c) => c.name),
    ['podlab-span-n2'],
  );
  // A helper in a container's namespaces goes to that container's engine.
  await runtime.runContainer({
    name: 'helper',
    image: 'x',
    labels: {},
    env: {},
    network: { mode: 'container', container: 'podlab-span-n2' },
    capAdd: [],
    sysctls: {},
  });
  t.true([...b.containers.values()].some((c) => c.name === 'helper'));
  b.containers.delete([...b.containers.values()].find((c) => c.name === 'helper')!.id);
  await runtime.exec('podlab-span-n2', ['true']);
  t.is(b.calls.filter((c) => c.method === 'exec').length, 1);
  t.is(own.calls.filter((c) => c.method === 'exec').length, 0);
  const listed = await runtime.listContainers({ [Label.lab]: 'span' });
  t.deepEqual(listed.map((c) => [c.name, c.engine]).sort(), [
    ['podlab-span-n1', 'a'],
    ['podlab-span-n2', 'b'],
  ]);
  // A fresh runtime that reaches only the CLI's engine learns engine b from the labels it lists.
  const again = new LabRuntime(own, 'unix:///own.sock', (config) =>
    config.host ? { address: config.host, runtime: b } : { address: 'unix:///own.sock', runtime: own },
  );
  const found = await again.listContainers({ [Label.lab]: 'span' });
  t.is(found.length, 2);
  await again.removeContainer(found.find((c) => c.name === 'podlab-span-n2')!.id);
  t.is(b.containers.size, 0);
});

test('an image one engine lacks is copied to it from one that has it (save, then load)', async (t) => {
  const { own, b, runtime } = fakes();
  runtime.useEngines([{ name: 'a' }, { name: 'b', host: 'unix:///b.sock' }], 'span');
  b.absentImages.add('podlab-node:x');
  t.true(await runtime.hasImage('podlab-node:x'));
  t.deepEqual(
    own.calls.filter((c) => c.method === 'saveImage').map((c) => c.target),
    ['podlab-node:x'],
  );
  t.deepEqual(
    b.calls.filter((c) => c.method === 'loadImage').map((c) => c.target),
    ['podlab-node:x'],
  );
  t.false(b.absentImages.has('podlab-node:x'));
});

test('an engine’s error names the engine', async (t) => {
  const { b, runtime } = fakes();
  runtime.useEngines([{ name: 'a' }, { name: 'b', host: 'unix:///b.sock' }], 'span');
  b.failOn = (call) => (call.method === 'version' ? new Error('connect ENOENT /b.sock') : undefined);
  const error = await t.throwsAsync(() => runtime.version());
  t.regex(error!.message, /^engine b \(unix:\/\/\/b\.sock\): connect ENOENT/);
});

import test from 'ava';
import up from '../../src/commands/up.js';
import { doctor, fastFindings, neighbourLimit } from '../../src/host/doctor.js';
import { takenRanges } from '../../src/plan/subnets.js';
import { observeLab } from '../../src/state/observe.js';
import { testContext, writeTopology } from '../helpers/context.js';
import { FakeHost } from '../helpers/fake-host.js';
import { FakeRuntime } from '../helpers/fake-runtime.js';

// The host is injected: these tests give it routes, /proc files and networks of their own.

test('doctor keeps its free-subnet finding when a Docker network has an IPv6 subnet', async (t) => {
  const runtime = new FakeRuntime();
  runtime.networks.set('v6', {
    id: 'v6',
    name: 'dual',
    subnets: ['172.30.0.0/24', 'fd00:dead:beef::/48'],
    labels: {},
  });
  const findings = await doctor(runtime, new FakeHost());
  const free = findings.find((f) => f.id === 'free-subnets');
  t.like(free, { status: 'ok', detail: "172.30.1.0/24 is free for the next lab's nodes" });
});

test('IPv6 subnets and bridge routes are no collision; other networks and host routes are, named', (t) => {
  const taken = takenRanges(
    [
      { name: 'bridge', subnets: ['172.17.0.0/16', 'fd00::/64'] },
      { name: 'podlab-x', subnets: ['172.30.0.0/24'], lab: 'x' },
      { name: 'podlab-me', subnets: ['172.30.1.0/24'], lab: 'me' },
    ],
    ['172.17.0.0/16', '10.244.7.0/24', 'fe80::/64'],
    'me',
  );
  t.deepEqual(taken, [
    { cidr: '10.244.7.0/24', owner: 'host route 10.244.7.0/24' },
    { cidr: '172.17.0.0/16', owner: 'Docker network bridge' },
    { cidr: '172.30.0.0/24', owner: 'lab x (network podlab-x)' },
  ]);
});

test('a host route into the pod range refuses up before anything is created, naming the route', async (t) => {
  const runtime = new FakeRuntime();
  const host = new FakeHost();
  host.routeList = ['10.244.3.0/24'];
  const ctx = testContext(runtime, process.cwd(), host);
  const error = await t.throwsAsync(
    up(ctx, { file: writeTopology('apiVersion: podlab/v1\nname: clash\nnodes: [{name: a}]\n') }),
  );
  t.regex(error!.message, /cluster\.podCIDR 10\.244\.0\.0\/16 overlaps host route 10\.244\.3\.0\/24/);
  t.is(runtime.calls.filter((c) => c.method === 'createNetwork' || c.method === 'runContainer').length, 0);
});

test('fast findings read the injected host: a missing br_netfilter and capability are failures with fixes', async (t) => {
  const host = new FakeHost();
  host.files.delete('/proc/sys/net/bridge/bridge-nf-call-iptables');
  host.files.set('/proc/self/status', 'CapBnd:\t0000000000000000');
  const findings = await fastFindings(host);
  t.deepEqual(
    findings.map((f) => [f.id, f.status]),
    [
      ['bridge-netfilter', 'fail'],
      ['capabilities', 'fail'],
    ],
  );
  t.regex(findings[1]!.detail, /lacks NET_ADMIN, NET_RAW, SYS_ADMIN/);
  host.local = false;
  t.deepEqual(await fastFindings(host), [], 'a remote engine: this host says nothing of its kernel');
  t.is(await neighbourLimit(host), undefined);
});

test('status lists a pod’s containers in the order the topology declares them', async (t) => {
  const runtime = new FakeRuntime();
  await up(testContext(runtime), {
    file: writeTopology(`apiVersion: podlab/v1
name: order
cluster: {nodeSubnet: 172.31.80.0/24}
nodes: [{name: a}]
pods: [{name: p, containers: [{name: zeta}, {name: alpha}, {name: mid}]}]
`),
  });
  const state = await observeLab(runtime, 'order', { podIPs: false });
  t.deepEqual(state!.pods.find((p) => p.name === 'p')!.containers, ['zeta', 'alpha', 'mid']);
});

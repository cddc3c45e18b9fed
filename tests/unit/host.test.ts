import test from 'ava';
import up from '../../src/commands/up.js';
import { doctor, fastFindings, neighbourLimit } from '../../src/host/doctor.js';
import { engineSide, parseSnapshot } from '../../src/host/engine-side.js';
import { sharesNetwork } from '../../src/host/host.js';
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
});

test('an engine whose network this process does not share is read through one helper container on its host network', async (t) => {
  const host = new FakeHost();
  host.local = false;
  // What this machine says must not count: the engine host is elsewhere.
  host.files.delete('/proc/sys/net/bridge/bridge-nf-call-iptables');
  host.routeList = ['10.9.0.0/16'];
  const runtime = new FakeRuntime();
  const route =
    'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\nbr0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF';
  runtime.execOutput = (call) =>
    call.args?.[0] === 'sh'
      ? {
          exitCode: 0,
          stdout: `\x1e/proc/net/route\x1f${route}\n\x1e/proc/sys/net/bridge/bridge-nf-call-iptables\x1f1\n\x1e/proc/sys/net/ipv4/neigh/default/gc_thresh3\x1f4096\n\x1e/proc/net/stat/arp_cache\x1f\x15\x1eiptables --version\x1fiptables v1.8.9 (nf_tables)\n`,
          stderr: '',
        }
      : undefined;
  const view = await engineSide(host, runtime, async () => 'podlab-node:test');
  t.is(view.where, 'the engine host, through a helper container');
  t.deepEqual(await view.routes(), ['172.17.0.0/16']);
  t.deepEqual(
    (await fastFindings(view)).map((f) => [f.id, f.status]),
    [
      ['bridge-netfilter', 'ok'],
      ['capabilities', 'ok'],
    ],
  );
  t.is(await neighbourLimit(view), 4096);
  t.is(await view.read('/proc/net/stat/arp_cache'), undefined);
  t.is(await view.run('iptables', ['--version']), 'iptables v1.8.9 (nf_tables)');
  const helpers = runtime.calls.filter((c) => c.method === 'runContainer');
  t.is(helpers.length, 1, 'one helper, read once');
  t.is(runtime.containers.size, 0, 'and removed');
  const created = runtime.calls.find((c) => c.method === 'runContainer')!;
  t.regex(created.target!, /^podlab-helper-host-/);
  t.is(view.owner(), host.owner());
});

test('the engine host is this machine only when this process routes to the engine’s own networks', (t) => {
  const networks = [{ subnets: ['172.17.0.0/16'] }, { subnets: ['172.31.5.0/24'] }];
  t.true(sharesNetwork(['172.17.0.0/16', '10.0.0.0/8'], networks));
  t.false(sharesNetwork([], networks), 'a namespace with only loopback');
  t.false(sharesNetwork(['192.168.65.0/24'], networks), 'a laptop beside Docker Desktop’s VM');
  t.deepEqual(
    parseSnapshot('\x1ea\x1f 1 \n\x1eb\x1f\x15\x1ec\x1f'),
    new Map([
      ['a', '1'],
      ['b', undefined],
      ['c', ''],
    ]),
  );
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

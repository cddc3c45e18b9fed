import test from 'ava';
import { hostPortClashes, parseListening } from '../../src/apply/host-ports.js';
import up from '../../src/commands/up.js';
import { HostPortTakenError } from '../../src/errors.js';
import { Label } from '../../src/labels.js';
import { diffPlans } from '../../src/plan/diff.js';
import type { LabPlan } from '../../src/plan/types.js';
import type { ContainerInfo } from '../../src/runtime/runtime.js';
import { testContext, writeTopology } from '../helpers/context.js';
import { FakeRuntime } from '../helpers/fake-runtime.js';
import { planOfText } from '../helpers/plan.js';

process.setMaxListeners(32);

const text = (hostPorts: string) => `apiVersion: podlab/v1
name: pub
cluster: {nodeSubnet: 172.31.93.0/24, serviceCIDR: 10.120.0.0/16}
dns: {clusterIP: 10.120.0.10}
nodes: [{name: a}, {name: b}]
pods:
  - {name: web, labels: {app: web}, containers: [{name: s, command: [podlab-echo], ports: [{name: http, containerPort: 8080}]}]}
services:
  - name: web
    selector: {app: web}
    ports: [{name: http, port: 80, targetPort: http${hostPorts}}]
`;
const plan = (t: string, previous?: LabPlan) => planOfText(t, '172.31.93.0/24', previous);

test('a hostPort makes one publisher on the node network: its ports, its route and its rules, exactly', (t) => {
  const p = plan(text(', hostPort: 8080'));
  t.deepEqual(p.published, [
    {
      service: 'default/web',
      port: 80,
      protocol: 'TCP',
      clusterIP: '10.120.0.2',
      hostIP: '127.0.0.1',
      hostPort: 8080,
    },
  ]);
  const pub = p.publisher!;
  t.is(pub.ip, '172.31.93.254', 'the last address of the subnet, clear of the nodes');
  t.is(pub.container.name, 'podlab-pub_publish');
  t.deepEqual(pub.container.network, { mode: 'bridge', network: 'podlab-pub', ip: '172.31.93.254' });
  t.deepEqual(pub.container.publish, [{ port: 8080, protocol: 'TCP', hostIP: '127.0.0.1', hostPort: 8080 }]);
  t.is(pub.container.labels[Label.role], 'publisher');
  t.deepEqual(pub.routes, ['route replace 10.120.0.0/16 via 172.31.93.2']);
  t.is(
    pub.rules,
    [
      '*nat',
      ':PODLAB-PUBLISH - [0:0]',
      ':PODLAB-PUBLISH-MASQ - [0:0]',
      '-A PODLAB-PUBLISH -p tcp -m tcp --dport 8080 -m comment --comment "default/web:80 on 127.0.0.1:8080" -j DNAT --to-destination 10.120.0.2:80',
      '-A PODLAB-PUBLISH-MASQ -m conntrack --ctstate DNAT -j MASQUERADE',
      'COMMIT',
      '',
    ].join('\n'),
  );
  t.is(plan(text('')).publisher, undefined, 'no hostPort, no publisher');
  const open = plan(text(', hostPort: 9000, hostIP: 0.0.0.0'));
  t.is(open.published[0]!.hostIP, '0.0.0.0', 'every address only when written out');
});

test('a host port held by another container (named) or a process is a clash; the lab’s own are not', (t) => {
  const published = plan(text(', hostPort: 8080')).published;
  const other: ContainerInfo = {
    id: 'x',
    name: 'web-proxy',
    state: 'running',
    image: 'nginx',
    labels: {},
    ips: {},
    published: [{ hostIP: '0.0.0.0', hostPort: 8080, protocol: 'TCP' }],
  };
  t.deepEqual(hostPortClashes(published, [], [other], 'pub'), [
    '127.0.0.1:8080/TCP (for default/web) is published by container web-proxy',
  ]);
  const own = { ...other, name: 'podlab-pub_publish', labels: { [Label.lab]: 'pub' } };
  t.deepEqual(
    hostPortClashes(published, [], [own], 'pub'),
    [],
    'a change in place replaces its own publisher',
  );
  const listening = parseListening(
    'tcp   LISTEN 0      4096       127.0.0.1:8080       0.0.0.0:*\nudp   UNCONN 0      0          0.0.0.0:8080       0.0.0.0:*\ntcp   LISTEN 0 511 [::]:9000 [::]:*\n',
  );
  t.deepEqual(listening, [
    { protocol: 'TCP', address: '127.0.0.1', port: 8080 },
    { protocol: 'UDP', address: '0.0.0.0', port: 8080 },
    { protocol: 'TCP', address: '[::]', port: 9000 },
  ]);
  t.deepEqual(hostPortClashes(published, listening, [], 'pub'), [
    '127.0.0.1:8080/TCP (for default/web) is taken by a process on the engine host',
  ]);
  t.deepEqual(
    hostPortClashes(published, [{ protocol: 'TCP', address: '10.0.0.5', port: 8080 }], [], 'pub'),
    [],
  );
});

test('up refuses a taken host port before it creates anything; a hostPort added later is a change in place', async (t) => {
  const runtime = new FakeRuntime();
  const ctx = testContext(runtime);
  ctx.host.commands.set('ss -Hltnu', 'tcp LISTEN 0 4096 0.0.0.0:8080 0.0.0.0:*');
  const error = await t.throwsAsync(up(ctx, { file: writeTopology(text(', hostPort: 8080')) }), {
    instanceOf: HostPortTakenError,
  });
  t.regex(
    error!.message,
    /lab pub cannot publish this host port: 127\.0\.0\.1:8080\/TCP \(for default\/web\) is taken by a process on the engine host/,
  );
  t.false(runtime.calls.some((c) => c.method === 'createNetwork' || c.method === 'runContainer'));

  t.is(await up(testContext(runtime), { file: writeTopology(text('')) }), 0);
  const before = new Map([...runtime.containers.values()].map((c) => [c.name, c.id]));
  const change = testContext(runtime);
  t.is(await up(change, { file: writeTopology(text(', hostPort: 8081')) }), 0);
  t.regex(change.err.join('\n'), /\+ host ports: 127\.0\.0\.1:8081 → default\/web:80/);
  const fresh = [...runtime.containers.values()]
    .filter((c) => before.get(c.name) !== c.id && c.labels[Label.role] !== 'record')
    .map((c) => c.name);
  t.deepEqual(fresh, ['podlab-pub_publish'], 'only the publisher is new');
  const configured = runtime.calls.filter((c) => c.method === 'exec' && c.target === 'podlab-pub_publish');
  t.is(configured.length, 1, 'configured in one exec');
  t.is(
    configured[0]!.env!.PODLAB_HOOKS,
    'nat PREROUTING PODLAB-PUBLISH\nnat POSTROUTING PODLAB-PUBLISH-MASQ',
  );
  const status = testContext(runtime);
  t.is(await up(status, { file: writeTopology(text(', hostPort: 8081')) }), 0);
  t.regex(status.out.join('\n'), /80\/TCP→http host:127\.0\.0\.1:8081/);
  t.is(diffPlans(plan(text(', hostPort: 8081')), plan(text(''))).publisher, 'removed');
  // Another host port: the Service says which, and only the publisher is removed (no pod: no CNI DEL).
  const moved = testContext(runtime);
  t.is(await up(moved, { file: writeTopology(text(', hostPort: 8082')) }), 0);
  t.regex(
    moved.err.join('\n'),
    /~ service default\/web: ports 80\/TCP \(host 127\.0\.0\.1:8081\) → 80\/TCP \(host 127\.0\.0\.1:8082\)/,
  );
});

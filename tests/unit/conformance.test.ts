import test from 'ava';
import up from '../../src/commands/up.js';
import { checks, runChecks } from '../../src/conformance/checks.js';
import { type DnsQuery, wrongAnswers } from '../../src/conformance/dns.js';
import { noNatFailures } from '../../src/conformance/no-nat.js';
import type { HttpResult, Probes } from '../../src/conformance/probes.js';
import { missingRoutes } from '../../src/conformance/routes.js';
import { judgeServices, type ServiceProbe, unreachedServices } from '../../src/conformance/services.js';
import type { LabState, NodeState, PodState } from '../../src/state/observe.js';
import { observeLab } from '../../src/state/observe.js';
import { checkContext, testContext, writeTopology } from '../helpers/context.js';
import { FakeRuntime } from '../helpers/fake-runtime.js';

// The judges of each check family are pure: results in, verdict out. Each is asked here with what a
// healthy lab answers and with what each fault makes it answer.

const node = (name: string, ip: string, podCIDR: string): NodeState => ({
  name,
  ip,
  podCIDR,
  container: `podlab-x-${name}`,
  state: 'running',
});
const result = (from: string, url: string, code: number, body: unknown, error = ''): HttpResult => ({
  from,
  url,
  code,
  body: typeof body === 'string' ? body : JSON.stringify(body),
  error,
  ms: 1,
});

test('node-routes: the judge names each node pair whose route is missing or points elsewhere', (t) => {
  const nodes = [
    node('a', '172.31.5.2', '10.9.0.0/24'),
    node('b', '172.31.5.3', '10.9.1.0/24'),
    node('c', '172.31.5.4', '10.9.2.0/24'),
  ];
  const healthy = new Map([
    ['a', '10.9.1.0/24 via 172.31.5.3 dev eth0\n10.9.2.0/24 via 172.31.5.4 dev eth0'],
    ['b', '10.9.0.0/24 via 172.31.5.2 dev eth0\n10.9.2.0/24 via 172.31.5.4 dev eth0'],
    ['c', '10.9.0.0/24 via 172.31.5.2 dev eth0\n10.9.1.0/24 via 172.31.5.3 dev eth0'],
  ]);
  t.deepEqual(missingRoutes(nodes, healthy), []);
  const broken = new Map(healthy);
  broken.set('b', '10.9.0.0/24 via 172.31.5.2 dev eth0\n10.9.2.0/24 via 172.31.5.2 dev eth0');
  broken.set('c', '10.9.1.0/24 via 172.31.5.3 dev eth0');
  t.deepEqual(
    missingRoutes(nodes, broken).map((m) => `${m.node}→${m.other.name}`),
    ['b→c', 'c→a'],
  );
});

test('no-NAT: the judge fails unanswered probes and those seen from another address, not the others', (t) => {
  const probes = [
    { from: 'ns/p', node: 'a', target: '10.9.1.2', peer: '10.9.0.2' },
    { from: 'ns/p', node: 'a', target: '10.9.2.2', peer: '10.9.0.2' },
    { from: 'node:a', node: 'a', target: '10.9.1.2', peer: '172.31.5.2' },
    { from: 'ns/p', node: 'a', target: '10.9.1.3', peer: '10.9.0.2' },
  ];
  const results = [
    result('ns/p', 'http://10.9.1.2:7/', 0, { pod: 'q', peer: '10.9.0.2' }),
    result('ns/p', 'http://10.9.2.2:7/', 0, { pod: 'r', peer: '172.31.5.2' }),
    result('node:a', 'http://10.9.1.2:7/', 7, '', 'Failed to connect'),
    result('ns/p', 'http://10.9.1.3:7/', 0, '<html>not echo</html>'),
  ];
  t.deepEqual(
    noNatFailures(probes, results).map((f) => f.p.target + (f.p.from === 'node:a' ? ' (node)' : '')),
    ['10.9.2.2', '10.9.1.2 (node)', '10.9.1.3'],
  );
});

test('pod-to-service: the judge finds failed connections, unreached endpoints and SNAT', (t) => {
  const client = { namespace: 'ns', name: 'c', ip: '10.9.0.9', node: 'a' } as PodState;
  const probes: ServiceProbe[] = [0, 1, 2, 3].map((i) => ({
    svc: 'ns/web',
    from: client,
    url: `http://10.96.0.2:80/?try=${i}`,
    want: ['web-0', 'web-1'],
  }));
  const answers = (pods: string[], peer = '10.9.0.9') =>
    pods.map((pod, i) => result('ns/c', probes[i]!.url, 0, { pod, peer }));
  t.deepEqual(judgeServices(probes, answers(['web-0', 'web-1', 'web-0', 'web-1'])).problems, []);
  t.deepEqual(unreachedServices(probes, answers(['web-0', 'web-0', 'web-0', 'web-0'])), ['ns/web']);
  t.deepEqual(judgeServices(probes, answers(['web-0', 'web-0', 'web-0', 'web-0'])).problems, [
    'ns/web: reached web-0; never web-1',
  ]);
  t.deepEqual(judgeServices(probes, answers(['web-0', 'web-1', 'web-0', 'web-1'], '10.9.0.1')).problems, [
    "ns/web: endpoints saw 10.9.0.1, not the client's 10.9.0.9",
  ]);
  const refused = probes.map((p) => result('ns/c', p.url, 7, '', 'curl: (7) Connection refused'));
  t.regex(
    judgeServices(probes, refused).problems[0]!,
    /ns\/web: 4 of 4 connections from ns\/c .* failed: curl: \(7\) Connection refused/,
  );
});

test('DNS: the judge wants the ClusterIP (headless: every endpoint) and no answer where the name must not resolve', (t) => {
  const svc = {
    namespace: 'bar',
    name: 'foo',
    clusterIP: '10.96.0.2',
    endpoints: [],
  } as unknown as DnsQuery['s'];
  const headless = {
    namespace: 'bar',
    name: 'hl',
    clusterIP: 'None',
    endpoints: [{ ip: '10.9.0.5' }, { ip: '10.9.1.5' }],
  } as unknown as DnsQuery['s'];
  const queries: DnsQuery[] = [
    { s: svc, from: 'bar/c', name: 'foo' },
    { s: svc, from: 'quux/c', name: 'foo', absent: true },
    { s: headless, from: 'bar/c', name: 'hl' },
  ];
  t.deepEqual(
    wrongAnswers(queries, [
      { code: 0, answer: '10.96.0.2       foo.bar.svc.cluster.local' },
      { code: 2, answer: '' },
      { code: 0, answer: '10.9.0.5 hl.bar.svc.cluster.local\n10.9.1.5 hl.bar.svc.cluster.local' },
    ]),
    [],
  );
  t.deepEqual(
    wrongAnswers(queries, [
      { code: 0, answer: '10.96.0.7 foo.bar.svc.cluster.local' },
      { code: 0, answer: '10.96.0.2 foo.bar.svc.cluster.local' },
      { code: 2, answer: '' },
    ]),
    [
      'bar/c: "foo" resolved to 10.96.0.7, expected 10.96.0.2',
      'quux/c: "foo" resolved to 10.96.0.2, but it must not outside namespace bar',
      'bar/c: "hl" did not resolve (getent exit 2)',
    ],
  );
});

test('dns-fqdn is skipped, not passed, when Services exist but no pod can ask', async (t) => {
  const runtime = new FakeRuntime();
  const file = writeTopology(`apiVersion: podlab/v1
name: mute
cluster: {nodeSubnet: 172.31.79.0/24}
nodes: [{name: a}]
pods: [{name: tool, namespace: kube-system, labels: {app: tool}}]
services: [{name: web, namespace: shop, ports: [{port: 80}]}]
`);
  await up(testContext(runtime), { file });
  const state = (await observeLab(runtime, 'mute')) as LabState;
  const probes = {
    async resolve() {
      throw new Error('nothing may be asked');
    },
  } as unknown as Probes;
  const ctx = checkContext(runtime, state, probes);
  const [fqdn] = await runChecks(
    ctx,
    checks.filter((c) => c.id === 'dns-fqdn'),
  );
  t.is(fqdn!.status, 'skipped');
  t.is(fqdn!.seen, 'no running pod outside kube-system to ask from');
});

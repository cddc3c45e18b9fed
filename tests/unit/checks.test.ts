import test from 'ava';
import up from '../../src/commands/up.js';
import { checks, runChecks } from '../../src/conformance/checks.js';
import {
  type ConnectProbe,
  type ConnectResult,
  type HttpProbe,
  type HttpResult,
  Probes,
} from '../../src/conformance/probes.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { type LabState, observeLab } from '../../src/state/observe.js';
import { checkContext, testContext, writeTopology } from '../helpers/context.js';
import { fakeClock } from '../helpers/fake-host.js';
import { FakeRuntime } from '../helpers/fake-runtime.js';

const topology = `apiVersion: podlab/v1
name: svc
cluster: {nodeSubnet: 172.31.78.0/24}
nodes: [{name: a}, {name: b}]
pods:
  - {name: web, replicas: 3, labels: {app: web}, containers: [{name: s, command: [podlab-echo], ports: [{containerPort: 8080}]}]}
  - {name: client}
services:
  - {name: web, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
`;

/** The pod-to-service check against a lab kept by the fake, with `answer` playing kube-proxy. */
async function podToService(answer: (probe: HttpProbe, n: number) => string) {
  const runtime = new FakeRuntime();
  await up(testContext(runtime), { file: writeTopology(topology) });
  const state = (await observeLab(runtime, 'svc'))!;
  const asked: HttpProbe[] = [];
  const probes = {
    async http(batch: HttpProbe[]): Promise<HttpResult[]> {
      return batch.map((p) => {
        asked.push(p);
        const pod = answer(p, asked.length);
        return {
          ...p,
          code: 0,
          body: JSON.stringify({ pod, peer: state.pods.find((x) => x.name === 'client')!.ip }),
          error: '',
          ms: 1,
        };
      });
    },
    async inNode() {
      return '';
    },
  } as unknown as Probes;
  const ctx = checkContext(runtime, state, probes);
  const [result] = await runChecks(
    ctx,
    checks.filter((c) => c.id === 'pod-to-service'),
  );
  return { result: result!, asked };
}

test('pod-to-service asks a second round before judging a Service whose endpoints were not all reached', async (t) => {
  // The first 24 connections (8 per endpoint) never reach web-2; the next round does.
  const { result, asked } = await podToService((_, n) => (n <= 24 ? `web-${n % 2}` : `web-${n % 3}`));
  t.is(result.status, 'passed', result.seen);
  t.is(asked.length, 24 + 48);
  t.is(new Set(asked.map((p) => p.url)).size, asked.length, 'every connection is a distinct request');
});

test('pod-to-service fails an endpoint that two rounds never reach, naming it', async (t) => {
  const { result, asked } = await podToService((_, n) => `web-${n % 2}`);
  t.is(result.status, 'failed');
  t.regex(result.seen, /default\/web: reached web-0, web-1; never web-2/);
  t.is(asked.length, 24 + 48);
});

test('pod-to-service needs one round when every endpoint answers', async (t) => {
  const { result, asked } = await podToService((_, n) => `web-${n % 3}`);
  t.is(result.status, 'passed', result.seen);
  t.is(asked.length, 24);
});

/**
 * Probes over a scripted node: `answer` gets each probe line (FROM URL [SECONDS]) and how many
 * times that line's probe was asked, and returns curl's exit code, the body or error, and seconds.
 */
async function scripted(
  probes: HttpProbe[],
  answer: (from: string, url: string, asked: number, timeout?: string) => [number, string, number?],
) {
  const asked = new Map<string, number>();
  const lines: string[][] = [];
  const runtime = {
    async exec(_container: string, _cmd: string[], options: { env?: Record<string, string> }) {
      const input = (options.env?.PODLAB_INPUT ?? '').split('\n').filter(Boolean);
      lines.push(input);
      const out = input.map((line) => {
        const [from = '', url = '', timeout] = line.split(' ');
        const n = (asked.get(`${from} ${url}`) ?? 0) + 1;
        asked.set(`${from} ${url}`, n);
        const [code, text, seconds = 0.1] = answer(from, url, n, timeout);
        return code === 0
          ? `${from}\t${url}\t0\t${seconds}\t${text}\t`
          : `${from}\t${url}\t${code}\t${seconds}\t\t${text}`;
      });
      return { exitCode: 0, stdout: out.join('\n'), stderr: '' };
    },
  } as unknown as Runtime;
  const state = {
    nodes: [
      { name: 'a', container: 'podlab-x-a', state: 'running', ip: '172.31.5.2', podCIDR: '10.0.0.0/24' },
    ],
    pods: [
      { namespace: 'ns', name: 'p', node: 'a', state: 'running', ip: '10.0.0.9' },
      { namespace: 'ns', name: 'q', node: 'a', state: 'running', ip: '10.0.0.1' },
      { namespace: 'ns', name: 'r', node: 'a', state: 'running', ip: '10.0.0.2' },
      { namespace: 'ns', name: 's', node: 'a', state: 'running', ip: '10.0.0.3' },
    ],
  } as unknown as LabState;
  const results = await new Probes(runtime, state, fakeClock()).http(probes);
  return { results, lines };
}

const echo = (pod: string) => JSON.stringify({ pod, peer: '10.0.0.9' });

test('a failed probe is asked again, alone and with time to spare, and passes when it then answers', async (t) => {
  const { results, lines } = await scripted(
    [
      { from: 'ns/p', url: 'http://10.0.0.1:7/' },
      { from: 'ns/p', url: 'http://10.0.0.2:7/' },
    ],
    (from, url, n) =>
      url.includes('127.0.0.1')
        ? [0, echo(from)]
        : url.includes('10.0.0.1') && n === 1
          ? [52, 'curl: (52) Empty reply from server']
          : [0, echo('x'), 0.5],
  );
  t.deepEqual(
    results.map((r) => [r.code, r.uncertain]),
    [
      [0, undefined],
      [0, undefined],
    ],
  );
  t.true(
    lines.flat().includes('ns/p http://10.0.0.1:7/ 10'),
    'asked again with ten seconds (four times the slowest answer, 0.5 s, is less)',
  );
});

test('a probe refused twice while its listener answers on its own loopback is a failure of the lab', async (t) => {
  const { results } = await scripted([{ from: 'ns/p', url: 'http://10.0.0.1:7/' }], (from, url) =>
    url.includes('127.0.0.1') ? [0, echo(from)] : [7, 'curl: (7) Failed to connect: Connection refused'],
  );
  t.is(results[0]!.code, 7);
  t.is(results[0]!.uncertain, undefined);
});

test('a probe whose listener is down is uncertain, naming the listener, never a failure of the lab', async (t) => {
  const { results } = await scripted([{ from: 'ns/p', url: 'http://10.0.0.1:7/' }], () => [
    7,
    'curl: (7) Failed to connect to 10.0.0.1 port 7 after 0 ms: Couldn’t connect to server',
  ]);
  t.regex(
    results[0]!.uncertain ?? '',
    /the probe listener in pod ns\/q did not answer on its own loopback either/,
  );
});

test('a probe that times out while its own listener is that slow on loopback is uncertain: the machine is too busy', async (t) => {
  const { results } = await scripted([{ from: 'ns/p', url: 'http://10.0.0.1:7/' }], (from, url) =>
    url.includes('127.0.0.1') ? [0, echo(from), 7] : [28, 'curl: (28) Operation timed out', 12],
  );
  t.regex(
    results[0]!.uncertain ?? '',
    /the machine is too busy to tell: the listener in pod ns\/q took 7\.0 s/,
  );
});

test('a missing route fails again at once, and counts against the lab', async (t) => {
  const { results } = await scripted([{ from: 'ns/p', url: 'http://10.0.0.3:7/' }], (from, url) =>
    url.includes('127.0.0.1') ? [0, echo(from)] : [7, 'curl: (7) Failed to connect: No route to host', 0],
  );
  t.is(results[0]!.code, 7);
  t.is(results[0]!.uncertain, undefined);
});

const policed = `apiVersion: podlab/v1
name: np
cluster: {nodeSubnet: 172.31.78.0/24}
nodes: [{name: a}, {name: b}]
pods:
  - {name: db, labels: {app: db}, containers: [{name: s, ports: [{containerPort: 5432}]}]}
  - {name: api, labels: {app: api}}
  - {name: other}
networkPolicies:
  - metadata: {name: db-from-api}
    spec:
      podSelector: {matchLabels: {app: db}}
      ingress: [{from: [{podSelector: {matchLabels: {app: api}}}]}]
`;

/** network-policy against a lab kept by the fake, with `answer` playing the network (and its speed). */
async function networkPolicy(
  answer: (p: ConnectProbe, round: number) => { result: ConnectResult['result']; ms: number },
  seen: (state: LabState) => void = () => {},
) {
  const runtime = new FakeRuntime();
  await up(testContext(runtime), { file: writeTopology(policed) });
  const state = (await observeLab(runtime, 'np'))!;
  seen(state);
  const asked: ConnectProbe[][] = [];
  const probes = {
    async connect(batch: ConnectProbe[]): Promise<ConnectResult[]> {
      asked.push(batch);
      return batch.map((p) => ({ ...p, ...answer(p, asked.length) }));
    },
  } as unknown as Probes;
  const [result] = await runChecks(
    checkContext(runtime, state, probes),
    checks.filter((c) => c.id === 'network-policy'),
  );
  return { result: result!, asked, state };
}

const to = (state: LabState, name: string) => state.pods.find((p) => p.name === name)!.ip;

test('network-policy: a slow machine gets more time, for the probes that should pass and for those that should not', async (t) => {
  // Round 1: nothing answers within its second; round 2 (the allowed ones, ten seconds): they answer
  // after 3 s, so the silence of the denied ones after 1 s proves nothing: they are asked again, 12 s.
  let db = '';
  const { result, asked, state } = await networkPolicy(
    (p, round) => {
      const allowed = p.ip !== db || p.from === 'default/api';
      if (round === 1) return { result: 'timeout', ms: 1000 };
      if (round === 2) return { result: allowed ? 'refused' : 'timeout', ms: 3000 };
      return { result: 'timeout', ms: 12000 };
    },
    (s) => {
      db = to(s, 'db');
    },
  );
  t.is(result.status, 'passed', result.seen);
  t.is(asked.length, 3);
  t.true(asked[0]!.every((p) => p.timeout === 1));
  t.true(asked[1]!.every((p) => p.timeout === 10 && (p.ip !== to(state, 'db') || p.from === 'default/api')));
  t.deepEqual(
    asked[2]!.map((p) => [p.ip === to(state, 'db'), p.timeout]),
    asked[2]!.map(() => [true, 12]),
  );
  t.true(asked[2]!.some((p) => p.from === 'default/other'));
});

test('network-policy: what got through though denied fails at once, with the truth table', async (t) => {
  const { result, asked } = await networkPolicy(() => ({ result: 'connected', ms: 5 }));
  t.is(result.status, 'failed');
  t.is(asked.length, 1);
  t.regex(result.seen, /default\/other → default\/db 5432\/TCP allowed \(expected denied\)/);
  t.regex(result.evidence[0]!, /default\/other\s+!\./);
  t.deepEqual(
    result.truthTable!.filter((r) => r.to === 'default/db').map((r) => [r.from, r.expected, r.seen]),
    [
      ['default/api', 'allowed', 'allowed'],
      ['default/other', 'denied', 'allowed'],
      ['kube-system/kube-dns-0', 'denied', 'allowed'],
    ],
  );
});

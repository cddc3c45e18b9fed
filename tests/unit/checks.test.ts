import test from 'ava';
import up from '../../src/commands/up.js';
import { type CheckContext, checks, runChecks } from '../../src/conformance/checks.js';
import { type HttpProbe, type HttpResult, Probes } from '../../src/conformance/probes.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { type LabState, observeLab } from '../../src/state/observe.js';
import { testContext, writeTopology } from '../helpers/context.js';
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
  const ctx: CheckContext = { runtime, state, probes, fetchFromHost: async () => '', clock: fakeClock() };
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

test('a probe that failed as a busy listener fails is asked once more; a refused one is not', async (t) => {
  const calls: string[][] = [];
  const answers = [
    // FROM URL CURL-EXIT SECONDS BODY ERROR, as podlab-agent probe-http prints them.
    'ns/p\thttp://10.0.0.1:7/\t52\t0.1\t\tcurl: (52) Empty reply from server\nns/p\thttp://10.0.0.2:7/\t7\t0.0\t\tcurl: (7) Connection refused\nns/p\thttp://10.0.0.3:7/\t1\t1.0\t{}\tcurl: (1) Received HTTP/0.9 when not allowed',
    'ns/p\thttp://10.0.0.1:7/\t0\t0.1\t{"pod":"x"}\t\nns/p\thttp://10.0.0.3:7/\t0\t0.1\t{"pod":"y"}\t',
  ];
  const runtime = {
    async exec(_container: string, cmd: string[], options: { env?: Record<string, string> }) {
      calls.push([...cmd, options.env?.PODLAB_INPUT ?? '']);
      return { exitCode: 0, stdout: answers[calls.length - 1] ?? '', stderr: '' };
    },
  } as unknown as Runtime;
  const state = {
    nodes: [{ name: 'a', container: 'podlab-x-a', state: 'running', ip: '', podCIDR: '' }],
    pods: [{ namespace: 'ns', name: 'p', node: 'a', state: 'running', ip: '10.0.0.9' }],
  } as unknown as LabState;
  const results = await new Probes(runtime, state).http(
    ['10.0.0.1', '10.0.0.2', '10.0.0.3'].map((ip) => ({ from: 'ns/p', url: `http://${ip}:7/` })),
  );
  t.deepEqual(
    results.map((r) => r.code),
    [0, 7, 0],
  );
  t.is(calls.length, 2);
  t.is(calls[1]!.at(-1), 'ns/p http://10.0.0.1:7/\nns/p http://10.0.0.3:7/');
});

import test from 'ava';
import up from '../../src/commands/up.js';
import { type CheckContext, checks, runChecks } from '../../src/exercises/checks.js';
import type { HttpProbe, HttpResult, Probes } from '../../src/exercises/probes.js';
import { observeLab } from '../../src/state/observe.js';
import { testContext, writeTopology } from '../helpers/context.js';
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
  const ctx: CheckContext = { runtime, state, probes, fetchFromHost: async () => '' };
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

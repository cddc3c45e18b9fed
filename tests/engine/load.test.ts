import { type ChildProcess, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import test from 'ava';
import { contains, parseCidr, parseIp } from '../../src/net/ipv4.js';
import { writeTopology } from '../helpers/context.js';
import { clearLab, engine, type LabRun, lab, labOk } from '../helpers/lab.js';

// lab test on a busy machine must give the verdict it gives on a quiet one (issue: false failures on
// a slow machine). A lab of 8 nodes and 40 pods, with non-default ranges and domain, tested quiet,
// then with every core kept busy, then busy with one route deleted: that fault, and only it, is caught.
// In the engine run (alone, after the rest): the load would slow every other test.

const name = 'itest-load';
const nodes = ['w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'w7', 'w8'];
const topology = `apiVersion: podlab/v1
name: ${name}
cluster:
  domain: load.test
  podCIDR: 10.77.0.0/16
  nodeMaskSize: 26
  serviceCIDR: 10.97.0.0/16
  nodeSubnet: 172.31.239.0/24
dns: {clusterIP: 10.97.0.10}
nodes: [${nodes.map((n) => `{name: ${n}}`).join(', ')}]
pods:
  - name: web
    namespace: shop
    replicas: 12
    labels: {app: web}
    containers: [{name: s, command: [podlab-echo, --port, "8080"], ports: [{name: http, containerPort: 8080}]}]
  - name: api
    namespace: ops
    replicas: 12
    labels: {app: api}
    containers: [{name: s, command: [podlab-echo, --port, "9000"], ports: [{name: rpc, containerPort: 9000}]}]
  - name: cache
    namespace: shop
    replicas: 8
    labels: {app: cache}
    containers: [{name: s, command: [podlab-echo, --port, "6379"]}, {name: side}]
  - {name: client, namespace: shop, replicas: 4}
  - {name: tool, namespace: ops, replicas: 4}
services:
  - {name: web, namespace: shop, type: NodePort, selector: {app: web}, ports: [{port: 80, targetPort: http}]}
  - {name: api, namespace: ops, selector: {app: api}, ports: [{name: rpc, port: 9000, targetPort: rpc}]}
  - {name: cache, namespace: shop, clusterIP: None, selector: {app: cache}, ports: [{port: 6379}]}
`;

/** Two busy loops per core (each bounded: 10 minutes at most), until `stop`: a machine at half speed or worse. */
function loadEveryCore(): { stop(): void } {
  const loops: ChildProcess[] = Array.from({ length: 2 * availableParallelism() }, () =>
    spawn(process.execPath, ['-e', 'const end = Date.now() + 600000; while (Date.now() < end) {}'], {
      stdio: 'ignore',
    }),
  );
  return {
    stop: () => {
      for (const loop of loops) loop.kill('SIGKILL');
    },
  };
}

let load: { stop(): void } | undefined;
let file: string;

interface Report {
  checks: { id: string; status: string; seen: string }[];
  failed: number;
  uncertain: number;
}

async function labTest(
  t: import('ava').ExecutionContext,
  what: string,
): Promise<{ run: LabRun; report: Report }> {
  const run = await lab(['test', name, '--reporter', 'json']);
  const report = JSON.parse(run.stdout) as Report;
  t.log(
    `${what}: exit ${run.code} in ${(run.ms / 1000).toFixed(1)} s; ${run.stderr.trim().split('\n').at(-1)}`,
  );
  return { run, report };
}

const verdicts = (report: Report) => Object.fromEntries(report.checks.map((c) => [c.id, c.status]));

test.before(async () => {
  await engine();
  await clearLab(name);
  file = writeTopology(topology);
});

test.after.always(async () => {
  load?.stop();
  await clearLab(name);
});

test.serial(
  'a healthy lab of 8 nodes and 40 pods gets the same verdict on a busy machine as on a quiet one',
  async (t) => {
    const up = await labOk(t, ['up', '-f', file]);
    t.log(`lab up: ${(up.ms / 1000).toFixed(1)} s`);
    const quiet = await labTest(t, 'quiet');
    t.is(quiet.run.code, 0, quiet.run.stdout);
    load = loadEveryCore();
    try {
      const busy = await labTest(
        t,
        `busy (${2 * availableParallelism()} busy loops on ${availableParallelism()} cores)`,
      );
      t.deepEqual(verdicts(busy.report), verdicts(quiet.report), busy.run.stdout);
      t.is(busy.run.code, 0, busy.run.stdout);
      t.is(busy.report.uncertain, 0);
    } finally {
      load.stop();
    }
  },
);

test.serial(
  'on a busy machine, one deleted route is caught exactly: that node pair, nothing uncertain',
  async (t) => {
    const status = JSON.parse((await labOk(t, ['status', name, '--json'])).stdout) as {
      nodes: { name: string; ip: string; podCIDR: string }[];
      pods: { namespace: string; name: string; node: string }[];
    };
    const [from, to] = [
      status.nodes.find((n) => n.name === 'w7')!,
      status.nodes.find((n) => n.name === 'w8')!,
    ];
    await labOk(t, ['exec', '--lab', name, from.name, '--', 'ip', 'route', 'del', to.podCIDR]);
    load = loadEveryCore();
    try {
      const { run, report } = await labTest(t, 'busy, route w7 → w8 deleted');
      t.is(run.code, 1, run.stdout);
      t.is(report.uncertain, 0, run.stdout);
      const routes = report.checks.find((c) => c.id === 'node-routes')!;
      t.is(routes.status, 'failed');
      t.is(routes.seen, `node w7 has no route "${to.podCIDR} via ${to.ip}"`);
      // Every failed pod-to-pod probe runs between the two nodes, one way or the other.
      const onPair = new Set(
        status.pods.filter((p) => p.node === 'w7' || p.node === 'w8').map((p) => `${p.namespace}/${p.name}`),
      );
      const pods = report.checks.find((c) => c.id === 'pod-to-pod-no-nat')!;
      t.is(pods.status, 'failed');
      const failures = pods.seen.split('\n').slice(1);
      t.true(failures.length > 0);
      for (const line of failures) {
        const source = /^(\S+) →/.exec(line)?.[1] ?? '';
        const target = /→ http:\/\/([\d.]+):/.exec(line)?.[1] ?? '';
        const targetNode = status.nodes.find((n) =>
          contains(parseCidr(n.podCIDR), parseIp(target) ?? 0),
        )?.name;
        t.true(onPair.has(source), `${line}: the source is not on w7 or w8`);
        t.true(targetNode === 'w7' || targetNode === 'w8', `${line}: the target is not on w7 or w8`);
      }
      // Checks that do not cross the pair are untouched.
      for (const id of [
        'pod-localhost',
        'dns-same-namespace',
        'dns-cross-namespace',
        'dns-fqdn',
        'dns-resolv-conf',
      ])
        t.is(verdicts(report)[id], 'passed', id);
    } finally {
      load.stop();
    }
    await labOk(t, ['down', name]);
  },
);

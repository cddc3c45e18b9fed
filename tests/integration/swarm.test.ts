import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { removeLab } from '../../src/apply/remove.js';
import { DockerRuntime } from '../../src/runtime/docker-runtime.js';
import { engineFor } from '../../src/runtime/engine.js';
import { writeTopology } from '../helpers/context.js';
import { engine, lab, labOk, upUntil } from '../helpers/lab.js';

// Labs across engines: two extra engines, each a dockerd in a network namespace of its own, joined in
// one Docker Swarm by scripts/engines (the machine's own engine is never put into a swarm). This file's
// lab: itest-swarm on 172.31.211.0/24 with pods in 10.216.0.0/16, nodes on engines a and b.
const name = 'itest-swarm';
const hosts = ['unix:///run/podlab-eng1.sock', 'unix:///run/podlab-eng2.sock'];
const run = promisify(execFile);
const engines = hosts.map((host, i) => DockerRuntime.forEngine(engineFor({ name: `e${i}`, host })));

const topology = (lab: string, subnet: string, extra = '') => `apiVersion: podlab/v1
name: ${lab}
cluster: {nodeSubnet: ${subnet}, podCIDR: 10.216.0.0/16, domain: swarm.test}
engines:
  - {name: a, host: '${hosts[0]}'}
  - {name: b, host: '${hosts[1]}'}
nodes:
  - {name: s1}
  - {name: s2, engine: b}
  - {name: s3}
pods:
  - name: web
    namespace: shop
    replicas: 3
    labels: {app: web}
    containers:
      - name: srv
        command: [podlab-echo, --port, "8080"]
        ports: [{name: http, containerPort: 8080}]
  - {name: cli, namespace: shop, node: s2}
  - name: duo
    namespace: shop
    node: s2
    containers: [{name: app}, {name: sidecar}]
  - {name: cli, namespace: ops, node: s1}
services:
  - name: web
    namespace: shop
    type: NodePort
    selector: {app: web}
    ports: [{port: 80, targetPort: http}]
${extra}`;

let file: string;

/** Every object of a lab on the extra engines, named with its engine. */
async function leftoversOnEngines(lab: string): Promise<string[]> {
  const left: string[] = [];
  for (const [i, e] of engines.entries()) {
    for (const c of await e.listContainers({ 'io.podlab.lab': lab }))
      left.push(`engine ${i + 1}: container ${c.name} (${c.state})`);
    for (const n of await e.listNetworks({ 'io.podlab.lab': lab }))
      left.push(`engine ${i + 1}: network ${n.name}`);
  }
  return left;
}

async function clear(lab: string): Promise<void> {
  for (const e of engines) await removeLab(e, lab).catch(() => {});
}

async function swarmState(): Promise<string> {
  const info = await (await engine()).info();
  return info.swarm?.state ?? 'unknown';
}

let mainSwarm: string;
test.before(async () => {
  mainSwarm = await swarmState();
  await run(join(process.cwd(), 'scripts', 'engines'), ['up', '2'], { timeout: 180_000 });
  for (const lab of [name, `${name}-int`]) await clear(lab);
  file = writeTopology(topology(name, '172.31.211.0/24'));
});

test.after.always(async () => {
  for (const lab of [name, `${name}-int`]) await clear(lab);
  await run(join(process.cwd(), 'scripts', 'engines'), ['down'], { timeout: 180_000 });
});

test.serial('a lab on two engines comes up and passes every lab test check', async (t) => {
  await labOk(t, ['up', '-f', file]);
  const test = await lab(['test', '-f', file]);
  t.is(test.code, 0, test.stdout);
  t.regex(test.stdout, /✔ pod-to-pod-no-nat/);
  t.regex(test.stdout, /✔ nodeport-external/);
  t.regex(test.stdout, /✔ pod-mtu/);
  t.regex(test.stdout, /✔ pod-localhost/, 'its helper runs on engine b, beside the pod');
});

test.serial('lab status shows each node’s engine; the engines hold what the plan put on them', async (t) => {
  const text = (await labOk(t, ['status', '-f', file])).stdout;
  t.regex(text, /NODE\s+ENGINE\s+IP/);
  const json = JSON.parse((await labOk(t, ['status', '-f', file, '--json'])).stdout) as {
    nodes: { name: string; engine: string }[];
  };
  t.deepEqual(
    json.nodes.map((n) => [n.name, n.engine]),
    [
      ['s1', 'a'],
      ['s2', 'b'],
      ['s3', 'a'],
    ],
  );
  const onB = (await engines[1]!.listContainers({ 'io.podlab.lab': name })).map((c) => c.name).sort();
  t.true(onB.includes(`podlab-${name}-s2`));
  t.true(onB.some((c) => c.startsWith(`podlab-${name}-shop.cli`)));
  t.false(onB.includes(`podlab-${name}-s1`));
  // Found from either engine, without the file: the lab's objects name its engines.
  const fromB = await lab(['status', name, '--json'], { env: { DOCKER_HOST: hosts[1]! } });
  t.is(fromB.code, 0, `${fromB.stderr}\n${fromB.stdout}`);
});

test.serial('a pod on engine b reaches a pod on engine a, which sees its pod IP (no NAT)', async (t) => {
  const pods = (
    JSON.parse((await labOk(t, ['status', '-f', file, '--json'])).stdout) as {
      pods: { namespace: string; name: string; node: string; ip: string }[];
    }
  ).pods;
  const cli = pods.find((p) => p.namespace === 'shop' && p.name === 'cli')!;
  const web = pods.find((p) => p.name.startsWith('web') && p.node === 's1')!;
  t.is(cli.node, 's2');
  const answer = await labOk(t, [
    'exec',
    '-f',
    file,
    'shop/cli',
    '--',
    'curl',
    '-s',
    `http://${web.ip}:8080/`,
  ]);
  const echo = JSON.parse(answer.stdout) as { peer: string };
  t.is(echo.peer, cli.ip);
  // The node network is the overlay: MTU 1450, and the pods' MTU fits inside it.
  const mtu = await labOk(t, [
    'exec',
    '-f',
    file,
    's2',
    '--',
    'cat',
    '/sys/class/net/eth0/mtu',
    '/sys/class/net/cni0/mtu',
  ]);
  t.deepEqual(mtu.stdout.trim().split('\n'), ['1450', '1450']);
});

test.serial('an engine outside the swarm is refused before anything is created, with the fix', async (t) => {
  const bad = writeTopology(
    topology(`${name}-int`, '172.31.210.0/24').replace(
      `  - {name: b, host: '${hosts[1]}'}`,
      '  - {name: b}  # the CLI’s own engine, in no swarm',
    ),
  );
  const up = await lab(['up', '-f', bad]);
  t.is(up.code, 2, up.stderr);
  t.regex(up.stderr, /engine b \(unix:\/\/\/var\/run\/docker\.sock\) is in no swarm \(inactive\)/);
  t.regex(up.stderr, /swarm join --token/);
  t.deepEqual(await leftoversOnEngines(`${name}-int`), []);
  t.is((await (await engine()).listContainers({ 'io.podlab.lab': `${name}-int` })).length, 0);
});

test.serial('SIGINT during a two-engine up leaves nothing on either engine', async (t) => {
  const other = writeTopology(topology(`${name}-int`, '172.31.210.0/24'));
  const up = upUntil(other, /❯ Creating pods/);
  await up.reached;
  up.child.kill('SIGINT');
  const { code, stderr } = await up.done;
  t.is(code, 130, stderr);
  t.deepEqual(await leftoversOnEngines(`${name}-int`), []);
});

test.serial(
  'an engine that stops answering during up: the error names it; once it is back, down leaves nothing',
  async (t) => {
    const other = writeTopology(topology(`${name}-int`, '172.31.210.0/24'));
    const up = upUntil(other, /❯ Creating pods/);
    await up.reached;
    const pid = Number((await run('cat', ['/run/podlab-eng2.pid'])).stdout.trim());
    process.kill(pid, 'SIGKILL');
    const { code, stderr } = await up.done;
    t.is(code, 3, stderr);
    t.regex(stderr, /engine b \(unix:\/\/\/run\/podlab-eng2\.sock\)/);
    t.notRegex(stderr, /var\/run\/docker\.sock/, 'the message names engine b, not the CLI’s own engine');
    // Back (the script starts it again in its namespace, still in the swarm), and cleaned up.
    await run(join(process.cwd(), 'scripts', 'engines'), ['up', '2'], { timeout: 180_000 });
    await labOk(t, ['down', '-f', other]);
    t.deepEqual(await leftoversOnEngines(`${name}-int`), []);
  },
);

test.serial('lab down removes the lab from both engines, the overlay network last', async (t) => {
  await labOk(t, ['down', '-f', file]);
  t.deepEqual(await leftoversOnEngines(name), []);
  // The machine's own engine was never put into a swarm, nor taken out of one.
  t.is(await swarmState(), mainSwarm);
});

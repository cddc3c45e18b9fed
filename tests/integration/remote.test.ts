import { execFileSync } from 'node:child_process';
import { createServer, connect as netConnect, type Server } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import {
  exampleAs,
  hostPortFor,
  type LabRun,
  lab,
  leftovers,
  ownLabs,
  type StatusJson,
} from '../helpers/lab.js';

// A CLI that cannot reach the lab, as on Docker Desktop or with a remote engine: lab runs in a network
// namespace of its own with only loopback (unshare --net) and reaches the engine through its socket;
// then over DOCKER_HOST=tcp://127.0.0.1:PORT through a forwarder to that socket.
const name = 'itest-remote';
const subnet = '172.31.233.0/24';
const file = exampleAs(name, subnet);
const hostPort = hostPortFor(subnet);
const unshared = { wrap: ['unshare', '--net'] };

async function ok(t: ExecutionContext, run: Promise<LabRun>, args: string, code = 0): Promise<LabRun> {
  const r = await run;
  if (r.code !== code) t.fail(`lab ${args} exited ${r.code}, not ${code}\n${r.stderr}\n${r.stdout}`);
  return r;
}

ownLabs(name);

test.serial(
  'a CLI with only loopback: up, status, exec, every check, an exercise, dns and down',
  async (t) => {
    const links = execFileSync('unshare', ['--net', 'ip', '-o', 'link'], { encoding: 'utf8' });
    t.deepEqual(
      links
        .trim()
        .split('\n')
        .map((l) => l.split(':')[1]?.trim()),
      ['lo'],
      'the namespace has only loopback',
    );
    const run = (args: string[], code = 0) => ok(t, lab(args, unshared), args.join(' '), code);

    await run(['up', '-f', file]);
    const status = JSON.parse((await run(['status', name, '--json'])).stdout) as StatusJson;
    t.true(status.healthy, status.problems.join('; '));
    const foo = status.services.find((s) => s.name === 'foo')!;
    t.like(foo.ports[0], { hostIP: '127.0.0.1', hostPort });

    const exec = await run([
      'exec',
      '--lab',
      name,
      'bar/client',
      '--',
      'curl',
      '-s',
      '--max-time',
      '10',
      'foo',
    ]);
    t.regex(exec.stdout, /"pod":"web-\d"/);

    const report = JSON.parse((await run(['test', name, '--reporter', 'json'])).stdout) as {
      checks: { id: string; status: string; seen: string }[];
    };
    t.deepEqual(
      report.checks.filter((r) => r.status !== 'passed').map((r) => `${r.id}: ${r.status} ${r.seen}`),
      [],
      'every check passes, nodeport-external and host-port included',
    );
    t.regex(report.checks.find((r) => r.id === 'nodeport-external')!.seen, /the pods saw the client as /);

    await run(['exercise', 'start', 'missing-route', '-f', file]);
    await run(['exercise', 'check', 'missing-route', '-f', file], 1);
    await run(['exercise', 'reset', 'missing-route', '-f', file]);
    await run(['test', name, '--only', 'pod-to-pod-no-nat,node-routes']);

    const dns = await run(['dns', 'foo', '--from', 'bar/client', '-f', file]);
    t.regex(dns.stdout, /foo\.bar\.svc\.cluster\.local/);

    // The published port answers on the engine host (this machine), from a pod of bar/foo.
    const answer = await fetch(`http://127.0.0.1:${hostPort}/`, { signal: AbortSignal.timeout(10_000) });
    t.regex(await answer.text(), /"pod":"web-\d"/);

    await run(['down', name]);
    t.is(await leftovers(name), 0);
  },
);

test.serial('over DOCKER_HOST=tcp:// (a forwarder to the socket): up, every check, down', async (t) => {
  const forwarder: Server = createServer((client) => {
    const socket = netConnect('/var/run/docker.sock');
    client.pipe(socket).pipe(client);
    const close = () => {
      client.destroy();
      socket.destroy();
    };
    client.on('error', close);
    socket.on('error', close);
  });
  await new Promise<void>((resolve) => forwarder.listen(0, '127.0.0.1', resolve));
  const port = (forwarder.address() as { port: number }).port;
  const env = { DOCKER_HOST: `tcp://127.0.0.1:${port}` };
  try {
    const run = (args: string[], code = 0) => ok(t, lab(args, { env }), args.join(' '), code);
    const doctor = await run(['doctor']);
    t.regex(doctor.stdout, new RegExp(`at tcp://127\\.0\\.0\\.1:${port}, found from DOCKER_HOST`));
    t.regex(doctor.stdout, /read through a helper container on the engine host/);
    await run(['up', '-f', file]);
    await run(['test', name]);
    await run(['down', name]);
    t.is(await leftovers(name), 0);
  } finally {
    forwarder.close();
  }
});

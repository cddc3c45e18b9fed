import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { nodeImageRef } from '../../src/image/node-image.js';
import { writeTopology } from '../helpers/context.js';
import { clearLab, engine, lab, labOk, leftovers, type StatusJson, status } from '../helpers/lab.js';

// The user's own images, built here from podlab's node image (no registry): one with CMD only, one
// with ENTRYPOINT and CMD, one without any tool (no shell, curl or dig), one that exits.

const name = 'itest-img';
const images = {
  cmdOnly: 'itest-podlab/cmd-only:1',
  entryCmd: 'itest-podlab/entry-cmd:1',
  toolless: 'itest-podlab/toolless:1',
  exits: 'itest-podlab/exits:1',
};

function build(tag: string, dockerfile: string): void {
  const dir = mkdtempSync(join(tmpdir(), 'podlab-img-'));
  writeFileSync(join(dir, 'Dockerfile'), dockerfile);
  execFileSync('docker', ['build', '-q', '-t', tag, dir], { stdio: 'pipe' });
}

const topology = `apiVersion: podlab/v1
name: ${name}
cluster: {nodeSubnet: 172.31.237.0/24, domain: img.test, podCIDR: 10.88.0.0/16, serviceCIDR: 10.99.0.0/16}
dns: {clusterIP: 10.99.0.10}
nodes: [{name: left}, {name: right}]
pods:
  - name: web
    namespace: apps
    replicas: 2
    labels: {app: web}
    containers: [{name: server, image: ${images.cmdOnly}, ports: [{name: http, containerPort: 8080}]}]
  - name: alt
    namespace: apps
    labels: {app: alt}
    containers: [{name: server, image: ${images.entryCmd}, args: [--port, "9090"]}]
  - name: bare
    namespace: apps
    labels: {app: bare}
    containers:
      - {name: one, image: ${images.toolless}, imagePullPolicy: Never}
      - {name: two, image: ${images.toolless}, command: [/usr/bin/socat, "TCP4-LISTEN:8081,fork,reuseaddr", "EXEC:/usr/bin/cat"]}
  - {name: once, namespace: apps, restartPolicy: Never, containers: [{name: job, image: ${images.exits}, args: [sh, -c, "echo done"]}]}
  - {name: client, namespace: apps}
  - {name: probe, namespace: ops}
services:
  - {name: web, namespace: apps, type: NodePort, selector: {app: web}, ports: [{port: 80, targetPort: http}]}
  - {name: alt, namespace: apps, selector: {app: alt}, ports: [{port: 90, targetPort: 9090}]}
`;

test.before(async () => {
  await engine();
  await clearLab(name);
  const base = await nodeImageRef();
  execFileSync(join(process.cwd(), 'lab'), ['image'], {
    stdio: 'pipe',
    env: { ...process.env, PODLAB_PULL: 'never' },
  });
  build(images.cmdOnly, `FROM ${base}\nCMD ["podlab-echo", "--port", "8080"]\n`);
  build(images.entryCmd, `FROM ${base}\nENTRYPOINT ["podlab-echo"]\nCMD ["--port", "8080"]\n`);
  build(
    images.toolless,
    `FROM ${base}\nRUN rm -f /usr/bin/curl /usr/bin/dig /usr/bin/nslookup /usr/bin/bash /usr/bin/sh /usr/bin/dash\nENTRYPOINT ["/usr/bin/socat", "TCP4-LISTEN:8080,fork,reuseaddr", "EXEC:/usr/bin/cat"]\n`,
  );
  build(images.exits, `FROM ${base}\nCMD ["sh", "-c", "echo boom: no config >&2; exit 1"]\n`);
});

test.after.always(async () => {
  await clearLab(name);
  await clearLab(`${name}-x`);
});

test.serial(
  'user images run as built (CMD), with args replacing CMD, and without any tool; every check passes',
  async (t) => {
    await labOk(t, ['up', '-f', writeTopology(topology)]);
    const state: StatusJson = await status(t, name);
    t.true(state.healthy, state.problems.join('; '));
    const pod = (key: string) => state.pods.find((p) => `${p.namespace}/${p.name}` === key)!;
    t.is(pod('apps/web-0').state, 'running');
    t.is(pod('apps/once').state, 'completed');
    t.like(pod('apps/once').containerStates[0], { name: 'job', state: 'exited', exitCode: 0 });

    // CMD only: the image's own command serves every request to the Service (no idle endpoint).
    const hits = await labOk(t, [
      'exec',
      '--lab',
      name,
      'apps/client',
      '--',
      'sh',
      '-c',
      'for i in 1 2 3 4 5 6 7 8 9 10; do curl -s -m 5 http://web/ || echo FAIL; echo; done',
    ]);
    t.notRegex(hits.stdout, /FAIL/);
    t.deepEqual([...new Set(hits.stdout.match(/"pod":"web-\d"/g))].sort(), [
      '"pod":"web-0"',
      '"pod":"web-1"',
    ]);
    // ENTRYPOINT + CMD, args replacing CMD: podlab-echo listens on 9090.
    const alt = await labOk(t, [
      'exec',
      '--lab',
      name,
      'apps/client',
      '--',
      'curl',
      '-s',
      '-m',
      '5',
      'http://alt:90/',
    ]);
    t.regex(alt.stdout, /"pod":"alt","ip":"10\.88\.\d+\.\d+","port":9090/);
    // A pod without tools: lab dns resolves from it, through podlab's own dig in its namespace.
    const dns = await labOk(t, ['dns', 'web', '--from', 'apps/bare', '--lab', name, '--json']);
    t.like(JSON.parse(dns.stdout), { resolved: { name: 'web.apps.svc.img.test.', status: 'NOERROR' } });

    const summary = join(mkdtempSync(join(tmpdir(), 'podlab-gh-')), 'summary.md');
    const run = await lab(['test', name, '--reporter', 'github'], { env: { GITHUB_STEP_SUMMARY: summary } });
    t.is(run.code, 0, run.stdout);
    t.regex(run.stdout, /✔ pod-localhost .*\n[\s\S]*14 passed, 0 failed, 1 skipped/);
    t.notRegex(run.stdout, /^::error/m);
    t.regex(
      readFileSync(summary, 'utf8'),
      /### podlab itest-img: 14 passed, 0 failed, 1 skipped\n\n\| \| check \| rule \| seen \|/,
    );

    // The output of a pod that ran to completion, and of the DNS pod.
    const done = await labOk(t, ['logs', '--lab', name, 'apps/once/job']);
    t.is(done.stdout.trim(), 'done');
    const dnsLog = await labOk(t, ['logs', '--lab', name, 'kube-system/kube-dns-0', '--tail', '3']);
    t.true(dnsLog.stdout.split('\n').filter(Boolean).length <= 3);
  },
);

test.serial(
  'a container that exits at once fails up with exit 1, its exit code and its last output; nothing is left',
  async (t) => {
    const crash = topology
      .replace(`name: ${name}`, `name: ${name}-x`)
      .replace('172.31.237.0/24', '172.31.236.0/24')
      .replace(`args: [sh, -c, "echo done"]`, '');
    const run = await lab(['up', '-f', writeTopology(crash.replace('restartPolicy: Never, ', ''))]);
    t.is(run.code, 1, run.stderr);
    t.regex(run.stderr, /apps\/once container job exited with code 1; its last output:\n\s+boom: no config/);
    t.regex(run.stderr, /restartPolicy: Never or OnFailure/);
    t.is(await leftovers(`${name}-x`), 0);
  },
);

test.serial('--pull never refuses an image the engine lacks before anything is created', async (t) => {
  const missing = topology
    .replace(`name: ${name}`, `name: ${name}-x`)
    .replace('172.31.237.0/24', '172.31.236.0/24')
    .replace(`image: ${images.exits}`, 'image: itest-podlab/nowhere:1');
  const run = await lab(['up', '-f', writeTopology(missing), '--pull', 'never']);
  t.is(run.code, 2, run.stderr);
  t.regex(
    run.stderr,
    /1 image not in the engine, and --pull never forbids fetching it: itest-podlab\/nowhere:1/,
  );
  t.regex(run.stderr, /docker build -t itest-podlab\/nowhere:1 DIR, or docker load -i FILE/);
  t.is(await leftovers(`${name}-x`), 0);
  await labOk(t, ['down', name]);
});

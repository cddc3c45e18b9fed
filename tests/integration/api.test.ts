import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
// Only the public API, resolved through the package's exports as a user's project resolves it.
import { Lab, LabStateError } from 'podlab';

// A user's test suite: their own image as pods, reached through its Service, removed by disposal.

const name = 'itest-api';
const image = 'itest-podlab/api-web:1';
const docker = (args: string[]) =>
  execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
const leftovers = () =>
  docker(['ps', '-aq', '--filter', `label=io.podlab.lab=${name}`]) +
  docker(['network', 'ls', '-q', '--filter', `label=io.podlab.lab=${name}`]);

const topology = {
  apiVersion: 'podlab/v1',
  name: 'will-be-renamed',
  cluster: { nodeSubnet: '172.31.235.0/24', domain: 'api.test' },
  nodes: [{ name: 'n1' }, { name: 'n2' }],
  pods: [
    {
      name: 'web',
      namespace: 'shop',
      replicas: 2,
      labels: { app: 'web' },
      containers: [{ name: 'server', image, ports: [{ name: 'http', containerPort: 8080 }] }],
    },
    { name: 'client', namespace: 'shop' },
  ],
  services: [
    {
      name: 'web',
      namespace: 'shop',
      type: 'NodePort',
      selector: { app: 'web' },
      ports: [{ port: 80, targetPort: 'http' }],
    },
  ],
};

test.before(() => {
  // The user's image, from podlab's node image (lab plan names the tag; no registry here).
  const lab = join(process.cwd(), 'lab');
  execFileSync(lab, ['image'], { stdio: 'pipe', env: { ...process.env, PODLAB_PULL: 'never' } });
  const base = (JSON.parse(execFileSync(lab, ['plan', '--json'], { encoding: 'utf8' })) as { image: string })
    .image;
  const dir = mkdtempSync(join(tmpdir(), 'podlab-api-'));
  writeFileSync(join(dir, 'Dockerfile'), `FROM ${base}\nCMD ["podlab-echo", "--port", "8080"]\n`);
  docker(['build', '-q', '-t', image, dir]);
  for (const id of docker(['ps', '-aq', '--filter', `label=io.podlab.lab=${name}`])
    .split('\n')
    .filter(Boolean))
    docker(['rm', '-f', id]);
  for (const id of docker(['network', 'ls', '-q', '--filter', `label=io.podlab.lab=${name}`])
    .split('\n')
    .filter(Boolean))
    docker(['network', 'rm', id]);
});

test.serial(
  'Lab.up brings a lab up, its Service answers from the caller and inside, and disposal leaves nothing',
  async (t) => {
    const progress: string[] = [];
    {
      await using lab = await Lab.up({ topology, name, onProgress: (line) => progress.push(line) });
      t.is(lab.name, name);
      t.true(
        progress.some((l) => /Creating pods/.test(l)),
        progress.join('\n'),
      );

      const status = await lab.status();
      t.true(status.healthy, status.problems.join('; '));
      t.deepEqual(status.pods.map((p) => `${p.namespace}/${p.name}:${p.state}`).sort(), [
        'kube-system/kube-dns-0:running',
        'shop/client:running',
        'shop/web-0:running',
        'shop/web-1:running',
      ]);

      // From the caller: the NodePort on a node IP.
      const url = await lab.serviceUrl('shop/web');
      t.regex(url, /^http:\/\/172\.31\.235\.\d+:3\d{4}\/$/);
      const answer = (await (await fetch(url, { signal: AbortSignal.timeout(10_000) })).json()) as {
        pod: string;
      };
      t.regex(answer.pod, /^web-[01]$/);
      // From inside: the ClusterIP by name, the user's image serving every request.
      const r = await lab.exec('shop/client', [
        'sh',
        '-c',
        'for i in 1 2 3 4 5 6; do curl -s -m 5 web || echo FAIL; done',
      ]);
      t.is(r.exitCode, 0);
      t.notRegex(r.stdout, /FAIL/);

      const report = await lab.test({ only: ['pod-to-service', 'dns-same-namespace'] });
      t.like(report, { lab: name, failed: 0, uncertain: 0, passed: 2 });

      // attach: the same lab, not owned: its disposal leaves the lab up.
      {
        await using other = await Lab.attach(name);
        t.false(other.owned);
      }
      t.true((await lab.status()).healthy);
    }
    t.is(leftovers(), '', 'disposal removed every container and network of the lab');
    const error = await t.throwsAsync(Lab.attach(name), { instanceOf: LabStateError });
    t.is(error!.code, 2);
    t.regex(error!.message, /lab itest-api is not up/);
  },
);

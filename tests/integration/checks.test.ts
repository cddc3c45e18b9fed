import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { XMLParser } from 'fast-xml-parser';
import { exampleAs, lab, labOk, ownLabs, type StatusJson, status } from '../helpers/lab.js';

// This file's own lab: the example, named itest-checks, on node subnet 172.31.246.0/24.
const name = 'itest-checks';
let file: string;
let state: StatusJson;

interface JsonReport {
  checks: {
    id: string;
    rule: string;
    status: string;
    expected: string;
    seen: string;
    evidence: string[];
    durationMs: number;
  }[];
  passed: number;
  failed: number;
}

async function report(t: ExecutionContext, only: string[] = []): Promise<{ code: number; json: JsonReport }> {
  const run = await lab([
    'test',
    '--lab',
    name,
    '--reporter',
    'json',
    ...(only.length ? ['--only', ...only] : []),
  ]);
  if (run.code !== 0 && run.code !== 1) t.fail(`lab test exited ${run.code}: ${run.stderr}`);
  return { code: run.code, json: JSON.parse(run.stdout) as JsonReport };
}

const statusOf = (json: JsonReport) => Object.fromEntries(json.checks.map((c) => [c.id, c.status]));

/** Runs a command in a node or pod of this file's lab; fails the test unless it exits 0. */
const inLab = (t: ExecutionContext, target: string, ...command: string[]) =>
  labOk(t, ['exec', '--lab', name, target, '--', ...command]);

ownLabs(name);
test.before(() => {
  file = exampleAs(name, '172.31.246.0/24');
});

test.serial('lab up --test brings the lab up and passes every check', async (t) => {
  const run = await lab(['up', '-f', file, '--test']);
  t.is(run.code, 0, run.stdout + run.stderr);
  t.regex(run.stdout, /15 passed, 0 failed, 0 skipped/);
  state = await status(t, name);
});

/** The probe listeners (podlab-probe serve on port 7) running in each node of this file's lab. */
async function listeners(t: ExecutionContext): Promise<number> {
  let total = 0;
  for (const node of state.nodes) {
    const ps = await inLab(t, node.name, 'ps', '-eo', 'args');
    total += ps.stdout.split('\n').filter((l) => /podlab-probe serve 7 /.test(l)).length;
  }
  return total;
}

test.serial(
  'probe listeners live exactly as long as the lab test run: gone after it, and after a kill -9 of it',
  async (t) => {
    t.is(await listeners(t), 0, 'none before');
    const run = await lab(['test', '--lab', name]);
    t.is(run.code, 0, run.stdout);
    t.regex(
      run.stderr,
      /lab test took [\d.]+ s: listeners up [\d.]+ s · checks [\d.]+ s \(longest [a-z-]+ [\d.]+ s\) · failed probes asked again: \d+, [\d.]+ s · listeners stopped [\d.]+ s/,
    );
    t.is(await listeners(t), 0, 'none after the run');

    // A process that starts the listeners as lab test does and then idles, to be killed with -9.
    const { spawn } = await import('node:child_process');
    const dist = (path: string) => JSON.stringify(new URL(`../../src/${path}`, import.meta.url).href);
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { DockerRuntime } = await import(${dist('runtime/docker-runtime.js')});
       const { observeLab } = await import(${dist('state/observe.js')});
       const { Probes } = await import(${dist('conformance/probes.js')});
       const runtime = new DockerRuntime();
       await new Probes(runtime, await observeLab(runtime, ${JSON.stringify(name)})).serve();
       console.log('serving'); setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    t.is(await listeners(t), state.nodes.length + state.pods.length, 'one listener per node and per pod');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    let left = 1;
    for (let i = 0; i < 50 && left > 0; i++) {
      left = await listeners(t);
      if (left > 0) await new Promise((r) => setTimeout(r, 200));
    }
    t.is(left, 0, 'the listeners stop by themselves when the CLI dies');
  },
);

test.serial(
  'the JSON report lists every check with its rule, status, expectation, evidence and time',
  async (t) => {
    const { code, json } = await report(t);
    t.is(code, 0);
    t.deepEqual(
      json.checks.map((c) => c.id),
      [
        'pod-to-pod-no-nat',
        'node-to-pod-no-nat',
        'pod-to-node-no-nat',
        'self-ip-equals-seen-ip',
        'pod-localhost',
        'node-routes',
        'pod-mtu',
        'pod-to-service',
        'nodeport-external',
        'host-port',
        'dns-same-namespace',
        'dns-cross-namespace',
        'dns-fqdn',
        'dns-resolv-conf',
        'dns-pod-network',
      ],
    );
    t.is(json.passed, 15);
    t.is(json.failed, 0);
    for (const c of json.checks) {
      t.is(c.status, 'passed', `${c.id}: ${c.seen}`);
      t.true(c.rule.length > 10 && c.expected.length > 10 && typeof c.durationMs === 'number');
    }
  },
);

test.serial(
  'a deleted host route fails pod-to-pod-no-nat and node-routes, with the route lookup as evidence',
  async (t) => {
    const w2 = state.nodes.find((n) => n.name === 'worker-2')!;
    await inLab(t, 'worker-1', 'ip', 'route', 'del', w2.podCIDR);
    try {
      const { code, json } = await report(t, ['pod-to-pod-no-nat', 'node-routes', 'pod-to-service']);
      t.is(code, 1);
      t.like(statusOf(json), { 'pod-to-pod-no-nat': 'failed', 'node-routes': 'failed' });
      const p2p = json.checks.find((c) => c.id === 'pod-to-pod-no-nat')!;
      // Whichever pod of worker-1 the run sends to worker-2 (every node pair is crossed).
      t.regex(
        p2p.seen,
        // The node answers "no route" with ICMP, which the kernel rate-limits: a probe asked again at
        // once may see a timeout instead.
        /(quux\/client|bar\/web-1) → http:\/\/10\.244\.2\.\d+:7\/: .*(No route to host|Connection timed out)/,
      );
      t.regex(
        p2p.evidence.join('\n'),
        /on node worker-1: ip route get 10\.244\.2\.\d+\nRTNETLINK answers: No route to host/,
      );
      const routes = json.checks.find((c) => c.id === 'node-routes')!;
      t.regex(
        routes.seen,
        new RegExp(
          `node worker-1 has no route "${w2.podCIDR.replace(/\./g, '\\.')} via ${w2.ip.replace(/\./g, '\\.')}"`,
        ),
      );
    } finally {
      await inLab(t, 'worker-1', 'ip', 'route', 'add', w2.podCIDR, 'via', w2.ip);
    }
  },
);

test.serial(
  'a MASQUERADE rule for pod traffic fails the no-NAT checks while everything stays reachable',
  async (t) => {
    const w1 = state.nodes.find((n) => n.name === 'worker-1')!;
    const rule = ['POSTROUTING', '-s', w1.podCIDR, '!', '-d', w1.podCIDR, '-j', 'MASQUERADE'];
    await inLab(t, 'worker-1', 'iptables', '-t', 'nat', '-I', ...rule);
    try {
      const { json } = await report(t, [
        'pod-to-pod-no-nat',
        'self-ip-equals-seen-ip',
        'pod-to-node-no-nat',
        'node-routes',
      ]);
      t.like(statusOf(json), {
        'pod-to-pod-no-nat': 'failed',
        'self-ip-equals-seen-ip': 'failed',
        'pod-to-node-no-nat': 'failed',
        'node-routes': 'passed',
      });
      const p2p = json.checks.find((c) => c.id === 'pod-to-pod-no-nat')!;
      // Reachable, but seen from the node's address: every failure is a wrong peer, none a lost connection.
      t.regex(p2p.seen, new RegExp(`seen as ${w1.ip.replace(/\./g, '\\.')}, not 10\\.244\\.1\\.`));
      t.notRegex(p2p.seen, /No route|Couldn't connect|timed out/);
      t.regex(p2p.evidence.join('\n'), /NAT rules whose counters moved[\s\S]*MASQUERADE/);
    } finally {
      await inLab(t, 'worker-1', 'iptables', '-t', 'nat', '-D', ...rule);
    }
  },
);

test.serial(
  "a pod's resolver without its search list fails dns-same-namespace and dns-resolv-conf",
  async (t) => {
    const original = (await inLab(t, 'bar/client', 'cat', '/etc/resolv.conf')).stdout;
    await inLab(
      t,
      'bar/client',
      'sh',
      '-c',
      'grep -v ^search /etc/resolv.conf > /tmp/r && cat /tmp/r > /etc/resolv.conf',
    );
    try {
      const { json } = await report(t, ['dns-same-namespace', 'dns-resolv-conf', 'dns-fqdn']);
      t.like(statusOf(json), {
        'dns-same-namespace': 'failed',
        'dns-resolv-conf': 'failed',
        'dns-fqdn': 'passed',
      });
      t.regex(
        json.checks.find((c) => c.id === 'dns-same-namespace')!.seen,
        /bar\/client: "foo" did not resolve/,
      );
      t.regex(json.checks.find((c) => c.id === 'dns-resolv-conf')!.seen, /bar\/client: search \(none\)/);
    } finally {
      await inLab(t, 'bar/client', 'sh', '-c', `printf '%s' "$1" > /etc/resolv.conf`, 'sh', original);
    }
  },
);

test.serial(
  'a stopped DNS container fails the DNS checks; the JUnit report says so and parses',
  async (t) => {
    await inLab(t, 'kube-system/kube-dns-0', 'kill', '1');
    const out = join(tmpdir(), `podlab-junit-${process.pid}.xml`);
    const run = await lab(['test', '--lab', name, '--reporter', 'junit', '--output', out]);
    t.is(run.code, 1);
    t.regex(run.stdout, /✘ dns-same-namespace/);
    const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(
      readFileSync(out, 'utf8'),
    );
    const suite = xml.testsuites.testsuite;
    t.is(suite.name, `podlab ${name}`);
    const cases = suite.testcase as {
      name: string;
      classname: string;
      time: string;
      failure?: { message: string };
    }[];
    t.is(cases.length, 15);
    const failed = cases.filter((c) => c.failure).map((c) => c.name);
    for (const id of ['dns-same-namespace', 'dns-cross-namespace', 'dns-fqdn', 'dns-pod-network'])
      t.true(failed.includes(id), `${id} should fail`);
    t.false(failed.includes('pod-to-pod-no-nat'));
    t.is(Number(xml.testsuites.failures), failed.length);
    t.true(cases.every((c) => c.classname === `podlab.${name}` && Number(c.time) >= 0));
    t.regex(cases.find((c) => c.name === 'dns-pod-network')!.failure!.message, /DNS/);
  },
);

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import test from 'ava';
import Docker from 'dockerode';
import { contains, parseCidr, parseIp } from '../../src/net/ipv4.js';
import {
  type Echo,
  engine,
  exampleAs,
  lab,
  labOk,
  ownLabs,
  type StatusJson,
  status,
} from '../helpers/lab.js';

// This file's own lab: its name and node subnet are used by no other test.
const name = 'itest-core';
const subnet = '172.31.241.0/24';
let file: string;
let state: StatusJson;

const node = (n: string) => state.nodes.find((x) => x.name === n)!;
const pod = (key: string) => state.pods.find((p) => `${p.namespace}/${p.name}` === key)!;

ownLabs(name);
test.before(() => {
  file = exampleAs(name, subnet);
});

test.serial('lab up brings the example up and status reads it back healthy', async (t) => {
  const up = await labOk(t, ['up', '-f', file]);
  t.log(`lab up took ${(up.ms / 1000).toFixed(1)} s`);
  state = await status(t, name);
  t.true(state.healthy, state.problems.join('; '));
  t.deepEqual(
    state.nodes.map((n) => [n.name, n.ip, n.podCIDR, n.state]),
    [
      ['control-plane', '172.31.241.2', '10.244.0.0/24', 'running'],
      ['worker-1', '172.31.241.3', '10.244.1.0/24', 'running'],
      ['worker-2', '172.31.241.4', '10.244.2.0/24', 'running'],
    ],
  );
  t.deepEqual(
    state.pods.map((p) => `${p.namespace}/${p.name}@${p.node}:${p.containers.join(',')}`),
    [
      'bar/client@worker-2:main',
      'bar/duo@worker-2:app,sidecar',
      'bar/web-0@control-plane:server',
      'bar/web-1@worker-1:server',
      'kube-system/kube-dns-0@control-plane:dnsmasq',
      'quux/client@worker-1:main',
    ],
  );
});

test.serial("every pod's IP lies in its node's pod range", (t) => {
  for (const p of state.pods) {
    const ip = parseIp(p.ip);
    t.not(ip, undefined, `${p.namespace}/${p.name} has no IP`);
    t.true(
      contains(parseCidr(node(p.node).podCIDR), ip!),
      `${p.namespace}/${p.name} ${p.ip} is outside ${node(p.node).podCIDR}`,
    );
  }
});

test.serial(
  'a pod on worker-1 reaches a pod on worker-2, which sees the sender’s own pod IP (no NAT)',
  async (t) => {
    const from = pod('quux/client');
    const to = pod('bar/duo');
    const run = await labOk(t, [
      'exec',
      '-f',
      file,
      'quux/client',
      '--',
      'curl',
      '-s',
      '-m',
      '5',
      `http://${to.ip}:9090/`,
    ]);
    const echo = JSON.parse(run.stdout) as Echo;
    t.is(echo.pod, 'duo');
    t.is(echo.ip, to.ip);
    t.is(echo.peer, from.ip);
    // and the other way, worker-2 to worker-1
    const back = JSON.parse(
      (
        await labOk(t, [
          'exec',
          '-f',
          file,
          'bar/client',
          '--',
          'curl',
          '-s',
          '-m',
          '5',
          `http://${pod('bar/web-1').ip}:8080/`,
        ])
      ).stdout,
    ) as Echo;
    t.deepEqual([back.pod, back.peer], ['web-1', pod('bar/client').ip]);
  },
);

test.serial('a node reaches a pod on another node and is seen with its node IP', async (t) => {
  const run = await labOk(t, [
    'exec',
    '-f',
    file,
    'control-plane',
    '--',
    'curl',
    '-s',
    '-m',
    '5',
    `http://${pod('bar/duo').ip}:9090/`,
  ]);
  t.is((JSON.parse(run.stdout) as Echo).peer, node('control-plane').ip);
});

test.serial("ip route on each node lists every other node's pod range via that node's IP", async (t) => {
  for (const n of state.nodes) {
    const routes = (await labOk(t, ['exec', '-f', file, n.name, '--', 'ip', 'route'])).stdout;
    for (const other of state.nodes.filter((o) => o.name !== n.name)) {
      t.regex(
        routes,
        new RegExp(
          `^${other.podCIDR.replace(/\./g, '\\.')} via ${other.ip.replace(/\./g, '\\.')} dev eth0`,
          'm',
        ),
        `${n.name}:\n${routes}`,
      );
    }
    t.regex(routes, /^unreachable 10\.244\.0\.0\/16/m);
    t.regex(routes, /^unreachable 10\.96\.0\.0\/12/m);
  }
});

test.serial('the bridge CNI config is on each node, for its own range, without masquerade', async (t) => {
  for (const n of state.nodes) {
    const config = JSON.parse(
      (await labOk(t, ['exec', '-f', file, n.name, '--', 'cat', '/etc/cni/net.d/10-podlab.conf'])).stdout,
    );
    t.is(config.type, 'bridge');
    t.is(config.ipMasq, false);
    t.deepEqual(config.ipam.ranges, [[{ subnet: n.podCIDR, gateway: n.podCIDR.replace(/0\/\d+$/, '1') }]]);
  }
});

test.serial('the two containers of one pod talk over localhost', async (t) => {
  const run = await labOk(t, [
    'exec',
    '-f',
    file,
    'bar/duo/sidecar',
    '--',
    'curl',
    '-s',
    '-m',
    '5',
    'http://localhost:9090/',
  ]);
  const echo = JSON.parse(run.stdout) as Echo;
  t.deepEqual([echo.pod, echo.ip, echo.peer], ['duo', '127.0.0.1', '127.0.0.1']);
});

test.serial('lab exec passes the exit code and stderr through', async (t) => {
  const run = await lab(['exec', '-f', file, 'bar/web-0', '--', 'sh', '-c', 'echo oops >&2; exit 7']);
  t.is(run.code, 7);
  t.is(run.stderr, 'oops\n');
  const missing = await lab(['exec', '-f', file, 'bar/nope', '--', 'true']);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /lab itest-core has no pod bar\/nope/);
});

test.serial('lab exec -i passes standard input; -t runs the command on a terminal', async (t) => {
  const read = await lab(
    ['exec', '-f', file, '-i', 'bar/client', '--', 'sh', '-c', 'read x; echo "got $x"'],
    {
      input: 'hello\n',
    },
  );
  t.is(read.stdout, 'got hello\n', read.stderr);
  const plain = await lab(['exec', '-f', file, 'bar/client', '--', 'tty']);
  t.is(plain.code, 1);
  t.is(plain.stdout, 'not a tty\n');
  const onTerminal = await lab(['exec', '-f', file, '-t', 'bar/client', '--', 'tty']);
  t.is(onTerminal.code, 0, onTerminal.stderr);
  t.regex(onTerminal.stdout, /^\/dev\/pts\/\d+\r?\n$/);
});

test.serial(
  'lab exec -it on a real terminal: a shell gets its size and keys, and its exit code comes back',
  async (t) => {
    // script(1) gives lab a pseudo-terminal of 45 rows and 123 columns; the keys arrive as typed.
    const onTerminal = (args: string) =>
      `stty rows 45 cols 123; ${join(process.cwd(), 'lab')} exec -f ${file} ${args}`;
    // A command that ends while its terminal is still being sized: lab returns at once.
    const quick = spawnSync('script', ['-qec', onTerminal('-t bar/client -- tty'), '/dev/null'], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    t.is(quick.status, 0, quick.stdout);
    t.regex(quick.stdout, /\/dev\/pts\/\d+/);
    const command = onTerminal('-it bar/client -- sh');
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      env: { ...process.env, PODLAB_PULL: 'never' },
    });
    let out = '';
    const seen: { pattern: RegExp; resolve: () => void }[] = [];
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      for (const w of seen) if (w.pattern.test(out)) w.resolve();
    });
    child.stderr.resume();
    const closed = new Promise<number | null>((r) => child.on('close', r));
    // Resolves once the output shows `pattern`; rejects if the shell ends first.
    const when = (pattern: RegExp) =>
      new Promise<void>((resolve, reject) => {
        seen.push({ pattern, resolve });
        if (pattern.test(out)) resolve();
        void closed.then(() => reject(new Error(`the shell ended before printing ${pattern}:\n${out}`)));
      });
    await when(/# $/);
    child.stdin.write('stty size; echo "sum $((40+2))"\r');
    await when(/sum 42/);
    child.stdin.write('exit 5\r');
    const code = await closed;
    t.is(code, 5, out);
    t.regex(out, /\b45 123\b/);
    t.regex(out, /sum 42/);
  },
);

test.serial('up again does nothing; a change a running lab cannot make is refused', async (t) => {
  const again = await labOk(t, ['up', '-f', file]);
  t.regex(again.stderr, /already up; nothing to do/);
  const other = exampleAs(name, subnet, (s) => s.replace('bridge: cni0', 'bridge: cni9'));
  const refused = await lab(['up', '-f', other]);
  t.is(refused.code, 2);
  t.regex(
    refused.stderr,
    /lab itest-core is up, and a running lab cannot change this field: cni\.bridge \(cni0 → cni9\)/,
  );
});

test.serial('DNS: foo resolves in bar; in quux only foo.bar does; the FQDN from both', async (t) => {
  const foo = state.services.find((s) => s.name === 'foo')!.clusterIP;
  const resolve = (from: string, name: string) =>
    lab(['exec', '-f', file, from, '--', 'getent', 'hosts', name]);
  const fromBar = await resolve('bar/client', 'foo');
  t.is(fromBar.code, 0);
  t.regex(fromBar.stdout, new RegExp(`^${foo.replace(/\./g, '\\.')}\\s+foo\\.bar\\.svc\\.cluster\\.local`));
  t.is((await resolve('quux/client', 'foo')).code, 2, 'foo alone must not resolve from quux');
  t.regex((await resolve('quux/client', 'foo.bar')).stdout, new RegExp(`^${foo.replace(/\./g, '\\.')}\\s`));
  for (const from of ['bar/client', 'quux/client']) {
    t.regex(
      (await resolve(from, 'foo.bar.svc.cluster.local')).stdout,
      new RegExp(`^${foo.replace(/\./g, '\\.')}\\s`),
    );
  }
  const explained = await lab(['dns', 'foo', '--from', 'quux/client', '-f', file]);
  t.is(explained.code, 1);
  t.regex(explained.stdout, /foo\.quux\.svc\.cluster\.local\.\s+NXDOMAIN/);
  t.regex(explained.stdout, /→ foo does not resolve from quux\/client/);
  const works = await labOk(t, ['dns', 'foo.bar', '--from', 'quux/client', '-f', file]);
  t.regex(works.stdout, /→ foo\.bar resolves as foo\.bar\.svc\.cluster\.local\./);
});

test.serial('DNS: a name outside the cluster domain, with no upstream, is answered at once', async (t) => {
  const run = await lab([
    'exec',
    '-f',
    file,
    'bar/client',
    '--',
    'dig',
    '+time=3',
    '+tries=1',
    'www.example.test',
  ]);
  t.regex(run.stdout, /status: (REFUSED|NXDOMAIN)/);
  // dig's own measure of the answer, not the round trip through lab exec
  const queryMs = Number(/Query time: (\d+) msec/.exec(run.stdout)?.[1]);
  t.true(queryMs < 1000, `answered after ${queryMs} ms`);
});

test.serial("foo's ClusterIP reaches both endpoints, which see the client's own pod IP", async (t) => {
  const foo = state.services.find((s) => s.name === 'foo')!.clusterIP;
  const client = pod('bar/client');
  const script = `for i in $(seq 1 24); do curl -s -m 3 http://${foo}/; echo; done`;
  const run = await labOk(t, ['exec', '-f', file, 'bar/client', '--', 'sh', '-c', script]);
  const echoes = run.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Echo);
  t.is(echoes.length, 24);
  t.deepEqual([...new Set(echoes.map((e) => e.pod))].sort(), ['web-0', 'web-1']);
  t.deepEqual([...new Set(echoes.map((e) => e.peer))], [client.ip], 'no SNAT on pod-to-Service');
});

test.serial(
  'a pod reaches itself through its Service (hairpin), and a node reaches a ClusterIP',
  async (t) => {
    const script = 'for i in $(seq 1 16); do curl -s -m 3 http://foo/; echo; done';
    const run = await labOk(t, ['exec', '-f', file, 'bar/web-0', '--', 'sh', '-c', script]);
    const pods = new Set(
      run.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as Echo).pod),
    );
    t.true(pods.has('web-0'), 'web-0 never reached itself through foo');
    const foo = state.services.find((s) => s.name === 'foo')!.clusterIP;
    const fromNode = await labOk(t, [
      'exec',
      '-f',
      file,
      'worker-2',
      '--',
      'curl',
      '-s',
      '-m',
      '3',
      `http://${foo}/`,
    ]);
    t.regex((JSON.parse(fromNode.stdout) as Echo).pod, /^web-[01]$/);
  },
);

test.serial("the NodePort answers on every node's IP from the lab's host", async (t) => {
  const nodePort = state.services.find((s) => s.name === 'foo')!.ports[0]!.nodePort!;
  t.is(nodePort, 30080);
  for (const n of state.nodes) {
    const response = await fetch(`http://${n.ip}:${nodePort}/`, { signal: AbortSignal.timeout(5000) });
    const echo = (await response.json()) as Echo;
    t.regex(echo.pod, /^web-[01]$/, `NodePort on ${n.name}`);
  }
});

test.serial(
  'with a host route deleted, packets to that range fail at once inside the lab and never leave through the host',
  async (t) => {
    const docker = new Docker();
    const network = await docker.getNetwork(`podlab-${name}`).inspect();
    const bridge = `br-${(network.Id as string).slice(0, 12)}`;
    const target = pod('bar/duo');
    // Counts (and stops) anything from this lab's bridge to the pod or Service range that the host
    // would route elsewhere; lab traffic between nodes stays on the bridge and is not matched.
    const rules = ['10.244.0.0/16', '10.96.0.0/12'].map((d) => [
      'DOCKER-USER',
      '-i',
      bridge,
      '!',
      '-o',
      bridge,
      '-d',
      d,
      '-j',
      'DROP',
    ]);
    for (const r of rules) execFileSync('iptables', ['-I', ...r]);
    const leaked = () =>
      execFileSync('iptables', ['-L', 'DOCKER-USER', '-v', '-n', '-x'], { encoding: 'utf8' })
        .split('\n')
        .filter((l) => l.includes(bridge))
        .reduce((sum, l) => sum + Number(l.trim().split(/\s+/)[0]), 0);
    try {
      await labOk(t, ['exec', '-f', file, 'worker-1', '--', 'ip', 'route', 'del', node('worker-2').podCIDR]);
      const fromPod = await lab([
        'exec',
        '-f',
        file,
        'quux/client',
        '--',
        'curl',
        '-s',
        '-S',
        '-m',
        '5',
        '-o',
        '/dev/null',
        '-w',
        '%{time_total}',
        `http://${target.ip}:9090/`,
      ]);
      t.not(fromPod.code, 0);
      t.regex(fromPod.stderr, /No route to host|Couldn't connect/);
      // curl's own clock: it fails at once, far from its 5 s timeout
      t.true(
        Number(fromPod.stdout) < 1,
        `curl gave up after ${fromPod.stdout} s: it should fail at once, not time out`,
      );
      const fromNode = await lab([
        'exec',
        '-f',
        file,
        'worker-1',
        '--',
        'curl',
        '-s',
        '-S',
        '-m',
        '5',
        '-o',
        '/dev/null',
        '-w',
        '%{time_total}',
        `http://${target.ip}:9090/`,
      ]);
      t.not(fromNode.code, 0);
      t.true(Number(fromNode.stdout) < 1, `curl gave up after ${fromNode.stdout} s`);
      const service = await lab([
        'exec',
        '-f',
        file,
        'quux/client',
        '--',
        'curl',
        '-s',
        '-S',
        '-m',
        '5',
        'http://10.96.200.200/',
      ]);
      t.not(service.code, 0);
      t.is(leaked(), 0, 'packets left the lab through the Docker host');

      await labOk(t, [
        'exec',
        '-f',
        file,
        'worker-1',
        '--',
        'ip',
        'route',
        'add',
        node('worker-2').podCIDR,
        'via',
        node('worker-2').ip,
      ]);
      const healed = await labOk(t, [
        'exec',
        '-f',
        file,
        'quux/client',
        '--',
        'curl',
        '-s',
        '-m',
        '5',
        `http://${target.ip}:9090/`,
      ]);
      t.is((JSON.parse(healed.stdout) as Echo).peer, pod('quux/client').ip);
      t.is(leaked(), 0);
    } finally {
      for (const r of rules) execFileSync('iptables', ['-D', ...r]);
    }
  },
);

test.serial('lab down leaves no container or network with the lab label', async (t) => {
  const down = await labOk(t, ['down', name]);
  t.regex(down.stderr, /removed 17 containers and 1 network\b/);
  const runtime = await engine();
  t.deepEqual(await runtime.listContainers({ 'io.podlab.lab': name }), []);
  t.deepEqual(await runtime.listNetworks({ 'io.podlab.lab': name }), []);
  const again = await lab(['down', name]);
  t.is(again.code, 2, 'a lab that is not up is an unknown lab (exit 2)');
  t.regex(again.stderr, /lab itest-core is not up: nothing to remove/);
  const ignored = await labOk(t, ['down', name, '--ignore-not-found']);
  t.regex(ignored.stderr, /nothing to remove/);
});

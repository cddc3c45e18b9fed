import test, { type ExecutionContext } from 'ava';
import { contains, parseCidr, parseIp } from '../../src/net/ipv4.js';
import { type Echo, engine, lab, labOk, ownLabs, status } from '../helpers/lab.js';

// This file's own lab (tests/fixtures/labs/services.yaml): name itest-svc, node subnet 172.31.245.0/24,
// cluster domain lab.test. Addresses below are the ones the plan gives.
const name = 'itest-svc';
const file = 'tests/fixtures/labs/services.yaml';
const ip = {
  web0: '10.244.0.2',
  web1: '10.244.1.3',
  client: '10.244.0.4',
  dnsPod: '10.244.0.5',
  web: '10.96.0.2',
  empty: '10.96.0.3',
  udp: '10.96.0.4',
};

/** Runs dig in shop/client against the cluster DNS and returns the answer lines (`name ttl IN type data`). */
async function dig(t: ExecutionContext, ...args: string[]): Promise<{ status: string; answers: string[] }> {
  const run = await labOk(t, [
    'exec',
    '-f',
    file,
    'shop/client',
    '--',
    'dig',
    '+noall',
    '+comments',
    '+answer',
    '+time=2',
    '+tries=1',
    ...args,
  ]);
  return {
    status: /status: ([A-Z]+)/.exec(run.stdout)?.[1] ?? 'none',
    answers: run.stdout
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith(';'))
      .map((l) => l.trim().split(/\s+/))
      .map((f) => [f[0], f[3], ...f.slice(4)].join(' '))
      .sort(),
  };
}

ownLabs(name);

test.serial('the lab comes up with its DNS pod inside the pod network', async (t) => {
  await labOk(t, ['up', '-f', file]);
  const state = await status(t, name);
  t.true(state.healthy, state.problems.join('; '));
  const dns = state.dns!;
  t.deepEqual(dns, {
    clusterIP: '10.96.0.10',
    podIP: ip.dnsPod,
    node: 'n1',
    pod: 'kube-system/kube-dns-0',
    ready: true,
  });
  const node = state.nodes.find((n) => n.name === dns.node)!;
  t.true(contains(parseCidr(node.podCIDR), parseIp(dns.podIP)!), 'the DNS pod has a pod IP of its node');
  for (const n of state.nodes)
    t.true(contains(parseCidr('172.31.245.0/24'), parseIp(n.ip)!), `${n.name} is on the node subnet`);
});

test.serial('2.2 schema version: TXT dns-version.<zone>', async (t) => {
  t.deepEqual(await dig(t, 'dns-version.lab.test', 'TXT'), {
    status: 'NOERROR',
    answers: ['dns-version.lab.test. TXT "1.0.1"'],
  });
});

test.serial(
  '2.3.1 ClusterIP Service: A <service>.<ns>.svc.<zone>, compared case-insensitively',
  async (t) => {
    t.deepEqual((await dig(t, 'web.shop.svc.lab.test', 'A')).answers, [`web.shop.svc.lab.test. A ${ip.web}`]);
    t.deepEqual((await dig(t, 'WEB.Shop.SVC.lab.TEST', 'A')).answers, [`WEB.Shop.SVC.lab.TEST. A ${ip.web}`]);
  },
);

test.serial('2.3.2 ClusterIP Service: SRV per named port', async (t) => {
  t.deepEqual((await dig(t, '_http._tcp.web.shop.svc.lab.test', 'SRV')).answers, [
    '_http._tcp.web.shop.svc.lab.test. SRV 10 100 80 web.shop.svc.lab.test.',
  ]);
});

test.serial('2.3.3 ClusterIP Service: PTR of the ClusterIP', async (t) => {
  t.deepEqual((await dig(t, '-x', ip.web)).answers, ['2.0.96.10.in-addr.arpa. PTR web.shop.svc.lab.test.']);
});

test.serial(
  '2.4.1 headless Service: an A record per ready endpoint, and per hostname; none ready: NXDOMAIN',
  async (t) => {
    t.deepEqual((await dig(t, 'hl.shop.svc.lab.test', 'A')).answers, [
      `hl.shop.svc.lab.test. A ${ip.web0}`,
      `hl.shop.svc.lab.test. A ${ip.web1}`,
    ]);
    t.deepEqual((await dig(t, 'web-1.hl.shop.svc.lab.test', 'A')).answers, [
      `web-1.hl.shop.svc.lab.test. A ${ip.web1}`,
    ]);
    t.is((await dig(t, 'hl-empty.shop.svc.lab.test', 'A')).status, 'NXDOMAIN');
  },
);

test.serial('2.4.2 headless Service: SRV per endpoint and named port', async (t) => {
  t.deepEqual((await dig(t, '_http._tcp.hl.shop.svc.lab.test', 'SRV')).answers, [
    '_http._tcp.hl.shop.svc.lab.test. SRV 10 100 8080 web-0.hl.shop.svc.lab.test.',
    '_http._tcp.hl.shop.svc.lab.test. SRV 10 100 8080 web-1.hl.shop.svc.lab.test.',
  ]);
});

test.serial('2.4.3 headless Service: PTR per endpoint IP names the endpoint', async (t) => {
  t.deepEqual((await dig(t, '-x', ip.web1)).answers, [
    '3.1.244.10.in-addr.arpa. PTR web-1.hl.shop.svc.lab.test.',
  ]);
});

test.serial(
  '2.5 ExternalName Service: the CNAME; its target resolves through the upstream server',
  async (t) => {
    // dnsmasq answers the CNAME without chasing a target outside the cluster domain in the same answer.
    t.deepEqual((await dig(t, 'db.shop.svc.lab.test', 'A')).answers, [
      'db.shop.svc.lab.test. CNAME db.example.test.',
    ]);
    t.deepEqual((await dig(t, 'db.example.test', 'A')).answers, ['db.example.test. A 192.0.2.80']);
  },
);

test.serial('2.6 pod records: <a-b-c-d>.<ns>.pod.<zone> for any address', async (t) => {
  t.deepEqual((await dig(t, `${ip.client.replace(/\./g, '-')}.shop.pod.lab.test`)).answers, [
    `10-244-0-4.shop.pod.lab.test. A ${ip.client}`,
  ]);
  t.deepEqual((await dig(t, '1-2-3-4.shop.pod.lab.test')).answers, ['1-2-3-4.shop.pod.lab.test. A 1.2.3.4']);
});

test.serial('names outside the cluster domain go to dns.upstream; cluster names never do', async (t) => {
  t.deepEqual((await dig(t, 'www.example.test')).answers, ['www.example.test. A 192.0.2.80']);
  t.is((await dig(t, 'nope.shop.svc.lab.test')).status, 'NXDOMAIN');
});

test.serial('a pod resolves short names through its search list under the lab domain', async (t) => {
  const run = await labOk(t, ['exec', '-f', file, 'shop/client', '--', 'getent', 'hosts', 'web']);
  t.regex(run.stdout, new RegExp(`^${ip.web.replace(/\./g, '\\.')}\\s+web\\.shop\\.svc\\.lab\\.test`));
  const resolv = await labOk(t, ['exec', '-f', file, 'shop/client', '--', 'cat', '/etc/resolv.conf']);
  t.regex(resolv.stdout, /^nameserver 10\.96\.0\.10$/m);
  t.regex(resolv.stdout, /^search shop\.svc\.lab\.test svc\.lab\.test lab\.test$/m);
  t.regex(resolv.stdout, /^options ndots:5$/m);
  const hosts = await labOk(t, ['exec', '-f', file, 'shop/client', '--', 'cat', '/etc/hosts']);
  t.regex(hosts.stdout, new RegExp(`^${ip.client.replace(/\./g, '\\.')}\\s+client$`, 'm'));
});

test.serial('a Service without endpoints refuses at once; a UDP Service answers', async (t) => {
  const refused = await lab([
    'exec',
    '-f',
    file,
    'shop/client',
    '--',
    'curl',
    '-sS',
    '-m',
    '5',
    '-o',
    '/dev/null',
    '-w',
    '%{time_total}',
    `http://${ip.empty}/`,
  ]);
  t.is(refused.code, 7);
  t.regex(refused.stderr, /Connection refused|Couldn't connect/);
  t.true(Number(refused.stdout) < 1, `refused after ${refused.stdout} s`);
  const udp = await labOk(t, [
    'exec',
    '-f',
    file,
    'shop/client',
    '--',
    'sh',
    '-c',
    `echo hi | nc -u -w 2 ${ip.udp} 53`,
  ]);
  const echo = JSON.parse(udp.stdout.trim().split('\n')[0]!) as Echo;
  t.deepEqual([echo.pod, echo.peer], ['udp', ip.client]);
});

test.serial('a headless Service has no virtual IP: its pods are reached directly', async (t) => {
  const run = await labOk(t, [
    'exec',
    '-f',
    file,
    'shop/client',
    '--',
    'curl',
    '-s',
    '-m',
    '5',
    'http://web-1.hl:8080/',
  ]);
  t.deepEqual(JSON.parse(run.stdout).pod, 'web-1');
});

test.serial('status --json lists the Services with their endpoints', async (t) => {
  const json = JSON.parse((await labOk(t, ['status', name, '--json'])).stdout) as {
    services: {
      namespace: string;
      name: string;
      type: string;
      clusterIP: string;
      endpoints: { ip: string; ready: boolean }[];
    }[];
  };
  const brief = json.services.map(
    (s) =>
      `${s.namespace}/${s.name} ${s.type} ${s.clusterIP || '-'} ${s.endpoints.map((e) => `${e.ip}${e.ready ? '' : '!'}`).join(',')}`,
  );
  t.deepEqual(brief, [
    `shop/web ClusterIP ${ip.web} ${ip.web0},${ip.web1}`,
    `shop/hl ClusterIP None ${ip.web0},${ip.web1}`,
    'shop/hl-empty ClusterIP None ',
    `shop/empty ClusterIP ${ip.empty} `,
    'shop/db ExternalName - ',
    `shop/udp ClusterIP ${ip.udp} 10.244.0.3`,
    `kube-system/kube-dns ClusterIP 10.96.0.10 ${ip.dnsPod}`,
  ]);
});

test.serial('lab down removes the DNS container with the rest', async (t) => {
  await labOk(t, ['down', name]);
  const runtime = await engine();
  t.deepEqual(await runtime.listContainers({ 'io.podlab.lab': name }), []);
  t.deepEqual(await runtime.listNetworks({ 'io.podlab.lab': name }), []);
});

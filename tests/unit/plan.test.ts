import test from 'ava';
import { recordTopology, topologyHash } from '../../src/config/canonical.js';
import { parseTopology } from '../../src/config/load.js';
import { neighbourWarning } from '../../src/host/doctor.js';
import { neighbourEntries, neighbourFix, neighbourLimits, nodesThatFit } from '../../src/plan/neighbours.js';
import { planLab } from '../../src/plan/plan.js';
import { cniTemplate as template } from '../helpers/plan.js';

const topology = parseTopology(
  `apiVersion: podlab/v1
name: small
cluster: {domain: lab.test, nodeSubnet: 172.31.9.0/24}
cni: {mtu: 1400}
nodes:
  - name: n1
  - name: n2
    podCIDR: 10.244.9.0/24
pods:
  - name: web
    namespace: bar
    labels: {app: foo}
    containers:
      - {name: server, command: [podlab-echo, --port, "8080"], env: {A: b}}
      - {name: side}
  - name: client
    node: n2
`,
  '/labs/small/lab.yaml',
).topology;

const plan = planLab(topology, {
  nodeSubnet: '172.31.9.0/24',
  nodeImage: 'podlab-node:test',
  cniTemplate: template,
});
const hash = topologyHash(topology);

test('nodes get fixed IPs, their pod ranges, and routes to every other node plus containment', (t) => {
  t.deepEqual(
    plan.nodes.map(({ name, ip, podCIDR, podGateway, routes }) => ({
      name,
      ip,
      podCIDR,
      podGateway,
      routes,
    })),
    [
      {
        name: 'n1',
        ip: '172.31.9.2',
        podCIDR: '10.244.0.0/24',
        podGateway: '10.244.0.1',
        routes: [
          'route replace 10.244.9.0/24 via 172.31.9.3',
          'route replace 10.96.0.10/32 dev eth0',
          'route replace unreachable 10.244.0.0/16',
          'route replace unreachable 10.96.0.0/12',
        ],
      },
      {
        name: 'n2',
        ip: '172.31.9.3',
        podCIDR: '10.244.9.0/24',
        podGateway: '10.244.9.1',
        routes: [
          'route replace 10.244.0.0/24 via 172.31.9.2',
          'route replace 10.96.0.10/32 dev eth0',
          'route replace unreachable 10.244.0.0/16',
          'route replace unreachable 10.96.0.0/12',
        ],
      },
    ],
  );
  t.deepEqual(plan.network, {
    name: 'podlab-small',
    subnet: '172.31.9.0/24',
    gateway: '172.31.9.1',
    labels: {
      'io.podlab.lab': 'small',
      'io.podlab.role': 'network',
      'io.podlab.topology-hash': hash,
      'io.podlab.node-subnet': '172.31.9.0/24',
      'io.podlab.image': 'podlab-node:test',
      'io.podlab.topology': recordTopology(topology),
      'io.podlab.topology-scheme': '2',
    },
  });
});

test('each node gets the bridge CNI config: no masquerade, gateway on the bridge, its own range', (t) => {
  t.deepEqual(plan.nodes[1]!.cniConfig, {
    cniVersion: '1.0.0',
    name: 'podlab-small',
    type: 'bridge',
    bridge: 'cni0',
    mtu: 1400,
    isGateway: true,
    ipMasq: false,
    hairpinMode: true,
    ipam: {
      type: 'host-local',
      routes: [{ dst: '0.0.0.0/0' }],
      ranges: [[{ subnet: '10.244.9.0/24', gateway: '10.244.9.1' }]],
    },
  });
});

test('a node container: its image, hostname, caps and forwarding; never privileged', (t) => {
  t.deepEqual(plan.nodes[0]!.container, {
    name: 'podlab-small-n1',
    image: 'podlab-node:test',
    hostname: 'n1',
    labels: {
      'io.podlab.lab': 'small',
      'io.podlab.role': 'node',
      'io.podlab.topology-hash': hash,
      'io.podlab.node': 'n1',
      'io.podlab.pod-cidr': '10.244.0.0/24',
    },
    env: {},
    cmd: ['tini', '--', 'sleep', 'infinity'],
    network: { mode: 'bridge', network: 'podlab-small', ip: '172.31.9.2' },
    capAdd: ['NET_ADMIN', 'SYS_ADMIN', 'NET_RAW'],
    sysctls: { 'net.ipv4.ip_forward': '1', 'net.bridge.bridge-nf-call-iptables': '1' },
  });
});

test('a pod: a sandbox in the node PID namespace with the Kubernetes resolver, and containers joining it', (t) => {
  const web = plan.pods[0]!;
  const labels = {
    'io.podlab.lab': 'small',
    'io.podlab.role': 'sandbox',
    'io.podlab.topology-hash': hash,
    'io.podlab.node': 'n1',
    'io.podlab.pod': 'bar/web',
    'io.podlab.pod-labels': '{"app":"foo"}',
  };
  t.deepEqual(web.sandbox, {
    name: 'podlab-small-bar.web',
    image: 'podlab-node:test',
    hostname: 'web',
    labels,
    env: { PODLAB_POD: 'bar/web' },
    cmd: ['sleep', 'infinity'],
    network: { mode: 'none' },
    pidContainer: 'podlab-small-n1',
    capAdd: [],
    sysctls: {},
    dns: {
      servers: ['10.96.0.10'],
      search: ['bar.svc.lab.test', 'svc.lab.test', 'lab.test'],
      options: ['ndots:5'],
    },
    extraHosts: ['web:10.244.0.2'],
  });
  t.deepEqual(web.containers, [
    {
      name: 'podlab-small-bar.web.server',
      image: 'podlab-node:test',
      labels: { ...labels, 'io.podlab.role': 'container', 'io.podlab.container': 'server' },
      env: { A: 'b', PODLAB_POD_NAME: 'web', PODLAB_POD_NAMESPACE: 'bar' },
      entrypoint: ['podlab-echo', '--port', '8080'],
      cmd: [],
      network: { mode: 'container', container: 'podlab-small-bar.web' },
      capAdd: [],
      sysctls: {},
    },
    {
      name: 'podlab-small-bar.web.side',
      image: 'podlab-node:test',
      labels: { ...labels, 'io.podlab.role': 'container', 'io.podlab.container': 'side' },
      env: { PODLAB_POD_NAME: 'web', PODLAB_POD_NAMESPACE: 'bar' },
      cmd: ['sleep', 'infinity'],
      network: { mode: 'container', container: 'podlab-small-bar.web' },
      capAdd: [],
      sysctls: {},
    },
  ]);
  t.deepEqual(
    plan.pods.map((p) => `${p.key}@${p.node}:${p.ip}`),
    ['bar/web@n1:10.244.0.2', 'default/client@n2:10.244.9.2', 'kube-system/kube-dns-0@n1:10.244.0.3'],
  );
});

test('the topology hash ignores where exercises live but not the network', (t) => {
  t.is(topologyHash({ ...topology, exercises: ['/x.ts'] }), hash);
  t.not(topologyHash({ ...topology, cni: { ...topology.cni, bridge: 'br9' } }), hash);
});

test('planning is pure: the same inputs give the same plan', (t) => {
  t.deepEqual(
    planLab(topology, { nodeSubnet: '172.31.9.0/24', nodeImage: 'podlab-node:test', cniTemplate: template }),
    plan,
  );
});

test('neighbour entries: one per node pair, per node for the host and its gateway, per pod twice, and pods of a node among themselves', (t) => {
  t.is(neighbourEntries([2, 2, 2]), 3 * 2 + 2 * 3 + 2 * 6 + 3 * 2);
  // bench L: 30 nodes, 91 pods. While lab test ran there, the kernel held at most 1121 entries.
  const l = neighbourEntries([...Array(29).fill(3), 4]);
  t.is(l, 870 + 60 + 182 + 29 * 6 + 12);
  t.true(l > 1024 && l < 1121 * 1.25);
  t.deepEqual(neighbourLimits(l), { gc_thresh1: 512, gc_thresh2: 2048, gc_thresh3: 4096 });
  t.deepEqual(neighbourLimits(100), { gc_thresh1: 128, gc_thresh2: 512, gc_thresh3: 1024 });
  t.is(nodesThatFit(1024), 26);
  t.is(
    neighbourFix(l),
    'sysctl -w net.ipv4.neigh.default.gc_thresh1=512 net.ipv4.neigh.default.gc_thresh2=2048 net.ipv4.neigh.default.gc_thresh3=4096 (and the same in /etc/sysctl.d/ to keep it)',
  );
});

/** A lab of `nodes` nodes with `pods` pods each, as up's plan and test's state both have it. */
const shape = (name: string, nodes: number, pods: number) => ({
  name,
  nodes: Array.from({ length: nodes }, (_, i) => ({ name: `n${i}` })),
  pods: Array.from({ length: nodes * pods }, (_, i) => ({ node: `n${i % nodes}` })),
});

test('up and test warn when a lab needs more neighbour entries than the kernel keeps, with the fix', async (t) => {
  t.is(await neighbourWarning(shape('m', 10, 3), 1024), undefined);
  const l = await neighbourWarning(shape('l', 30, 3), 1024);
  t.regex(
    l!.message,
    /^lab l needs about 1290 neighbour \(ARP\) entries when its nodes and pods all talk; the kernel keeps at most 1024 for all labs together \(net\.ipv4\.neigh\.default\.gc_thresh3\), so under load connections fail with "No route to host"$/,
  );
  t.regex(l!.fix, /^sysctl -w net\.ipv4\.neigh\.default\.gc_thresh1=512 .*gc_thresh3=4096/);
  t.is(await neighbourWarning(shape('l', 30, 3), 4096), undefined);
});

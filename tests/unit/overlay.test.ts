import test from 'ava';
import { topologyHash } from '../../src/config/canonical.js';
import { parseTopology } from '../../src/config/load.js';
import { judgeMtu } from '../../src/conformance/mtu.js';
import { overlayProblems } from '../../src/conformance/routes.js';
import { diffPlans } from '../../src/plan/diff.js';
import type { LabPlan } from '../../src/plan/types.js';
import type { PodState } from '../../src/state/observe.js';
import { planOfText } from '../helpers/plan.js';

const text = (cni: string, nodes = '[{name: a}, {name: b}, {name: c}]') => `apiVersion: podlab/v1
name: ov
cluster: {podCIDR: 10.50.0.0/16}
cni: ${cni}
nodes: ${nodes}
pods: [{name: p, replicas: 3}]
`;
const parsed = (t: string) => parseTopology(t, 'ov.yaml');
const plan = (t: string, previous?: LabPlan) => planOfText(t, '172.31.94.0/24', previous);

test('vxlan: each node gets flannel.1 with a fixed MAC and its range address, and per peer a neighbour, an FDB entry and an onlink route', (t) => {
  const p = plan(text('{backend: vxlan}'));
  const a = p.nodes[0]!;
  t.deepEqual(a.overlay, {
    device: 'flannel.1',
    vni: 1,
    port: 8472,
    mac: '0e:70:ac:1f:5e:02',
    address: '10.50.0.0',
    mtu: 1450,
    setup: [
      'link add flannel.1 address 0e:70:ac:1f:5e:02 type vxlan id 1 local 172.31.94.2 dev eth0 dstport 8472 nolearning',
      'link set flannel.1 mtu 1450 up',
      'addr replace 10.50.0.0/32 dev flannel.1',
    ],
    neighbours: [
      'neigh replace 10.50.1.0 lladdr 0e:70:ac:1f:5e:03 dev flannel.1 nud permanent',
      'neigh replace 10.50.2.0 lladdr 0e:70:ac:1f:5e:04 dev flannel.1 nud permanent',
    ],
    fdb: [
      'fdb replace 0e:70:ac:1f:5e:03 dev flannel.1 dst 172.31.94.3 self permanent',
      'fdb replace 0e:70:ac:1f:5e:04 dev flannel.1 dst 172.31.94.4 self permanent',
    ],
  });
  t.deepEqual(a.routes.slice(0, 2), [
    'route replace 10.50.1.0/24 via 10.50.1.0 dev flannel.1 onlink',
    'route replace 10.50.2.0/24 via 10.50.2.0 dev flannel.1 onlink',
  ]);
  t.true(a.routes.includes('route replace unreachable 10.50.0.0/16'), 'containment stays');
  t.false(
    a.routes.some((r) => / via 172\.31\.94\./.test(r)),
    'no host-gw routes',
  );
  t.is(a.cniConfig.mtu, 1450, 'the pods leave room for the tunnel');
  const other = plan(text('{backend: vxlan, vxlan: {vni: 7, port: 4789}, mtu: 1400}')).nodes[1]!;
  t.like(other.overlay, { device: 'flannel.7', vni: 7, port: 4789 });
  t.is(other.cniConfig.mtu, 1400);
});

test('host-gw is what it was: no overlay, no MTU in the CNI config, and the same hash as a file without backend', (t) => {
  const p = plan(text('{bridge: cni0}'));
  t.is(p.nodes[0]!.overlay, undefined);
  t.is(p.nodes[0]!.cniConfig.mtu, undefined);
  t.deepEqual(p.nodes[0]!.routes.slice(0, 1), ['route replace 10.50.1.0/24 via 172.31.94.3']);
  t.is(
    topologyHash(parsed(text('{bridge: cni0, backend: host-gw}')).topology),
    topologyHash(parsed(text('{bridge: cni0}')).topology),
  );
});

test('validation: cni.vxlan needs backend vxlan; an MTU the tunnel cannot carry warns with the largest safe one', (t) => {
  t.throws(() => parsed(text('{vxlan: {vni: 2}}')), { message: /cni\.vxlan goes with cni\.backend: vxlan/ });
  const { warnings } = parsed(text('{backend: vxlan, mtu: 1500}'));
  t.deepEqual(
    warnings.map((w) => `${w.path}: ${w.message}`),
    [
      "cni.mtu: 1500 is more than the VXLAN tunnel carries: the node network's MTU 1500 less 50 for the encapsulation leaves 1450; larger packets are dropped (small requests work, large answers stall); use at most 1450, or leave cni.mtu out",
    ],
  );
});

test('a node added to a vxlan lab in place: the others gain its neighbour, FDB entry and route; a removed one is taken out either way', (t) => {
  const from = plan(text('{backend: vxlan}', '[{name: a}, {name: b}]'));
  const to = plan(text('{backend: vxlan}', '[{name: a}, {name: b}, {name: c}]'), from);
  const diff = diffPlans(from, to);
  t.deepEqual(diff.routes.a, [
    'neigh replace 10.50.2.0 lladdr 0e:70:ac:1f:5e:04 dev flannel.1 nud permanent',
    'route replace 10.50.2.0/24 via 10.50.2.0 dev flannel.1 onlink',
  ]);
  t.deepEqual(diff.fdb.a, ['fdb replace 0e:70:ac:1f:5e:04 dev flannel.1 dst 172.31.94.4 self permanent']);
  const back = diffPlans(to, from);
  t.deepEqual(back.fdb.a, [
    'fdb replace 0e:70:ac:1f:5e:04 dev flannel.1 dst 172.31.94.4 self permanent',
    'fdb del 0e:70:ac:1f:5e:04 dev flannel.1 dst 172.31.94.4 self',
  ]);
  t.deepEqual(back.routes.a!.slice(0, 2), [
    'neigh replace 10.50.2.0 lladdr 0e:70:ac:1f:5e:04 dev flannel.1 nud permanent',
    'neigh del 10.50.2.0 dev flannel.1',
  ]);
  t.deepEqual(diffPlans(from, plan(text('{bridge: cni0}', '[{name: a}, {name: b}]'), from)).refused, [
    { field: 'cni.mtu', from: '1450', to: '(none)' },
    { field: 'cni.backend', from: 'vxlan (VNI 1, port 8472)', to: 'host-gw' },
  ]);
});

test('node-routes on vxlan names the missing device, route, neighbour or FDB entry', (t) => {
  const nodes = plan(text('{backend: vxlan}', '[{name: a}, {name: b}]')).nodes;
  const healthy = (n: (typeof nodes)[number], other: (typeof nodes)[number]) =>
    [
      `${other.podCIDR} via 10.50.${other.name === 'a' ? 0 : 1}.0 dev flannel.1 onlink`,
      '@@',
      `5: flannel.1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue\n    vxlan id 1 local ${n.ip} dev eth0 srcport 0 0 dstport 8472 nolearning`,
      '@@',
      `10.50.${other.name === 'a' ? 0 : 1}.0 lladdr ${other.overlay!.mac} PERMANENT`,
      '@@',
      `${other.overlay!.mac} dst ${other.ip} self permanent`,
    ].join('\n');
  const outputs = new Map([
    ['a', healthy(nodes[0]!, nodes[1]!)],
    ['b', healthy(nodes[1]!, nodes[0]!)],
  ]);
  t.deepEqual(overlayProblems(nodes, outputs), []);
  outputs.set('a', healthy(nodes[0]!, nodes[1]!).replace(/^0e:70.*self permanent$/m, ''));
  t.deepEqual(overlayProblems(nodes, outputs), [
    'node a has no FDB entry "0e:70:ac:1f:5e:03 dst 172.31.94.3" (node b)',
  ]);
  outputs.set('b', 'x\n@@\nDevice "flannel.1" does not exist.\n@@\n@@\n');
  t.true(overlayProblems(nodes, outputs).includes('node b has no VXLAN device flannel.1'));
});

test('pod-mtu judges both sides: the MTU must arrive, one byte more must stay in the pod', (t) => {
  const pod = (name: string, node: string): PodState =>
    ({
      namespace: 'default',
      name,
      node,
      ip: '10.50.0.2',
      labels: {},
      containers: [],
      containerStates: [],
      state: 'running',
    }) as PodState;
  const pairs = [{ from: pod('x', 'a'), to: pod('y', 'b') }];
  const ok = { from: 'default/x', ip: '10.50.1.2', size: 1422, code: 0, output: '1 received' };
  const tooLong = { ...ok, size: 1423, code: 1, output: 'ping: local error: message too long, mtu=1450' };
  t.deepEqual(judgeMtu(1450, pairs, [ok], [tooLong]), []);
  t.deepEqual(
    judgeMtu(1450, pairs, [{ ...ok, code: 1, output: 'Frag needed and DF set (mtu = 1400)' }], [tooLong]),
    [
      "default/x → default/y (10.50.0.2): a don't-fragment packet of 1450 bytes (the pods' MTU) did not get through: Frag needed and DF set (mtu = 1400)",
    ],
  );
  t.deepEqual(judgeMtu(1450, pairs, [ok], [{ ...tooLong, code: 0, output: '1 received' }]), [
    'default/x: a packet of 1451 bytes left the pod (its eth0 takes more than the planned 1450): 1 received',
  ]);
});

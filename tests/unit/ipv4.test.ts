import test from 'ava';
import { allocateNodeRanges, expandPods, podCapacity } from '../../src/config/allocate.js';
import { parseProcRoutes } from '../../src/host/routes.js';
import { cidrProblem, formatCidr, overlaps, parseCidr, parseIp, subnet, within } from '../../src/net/ipv4.js';
import { collisions, pickNodeSubnet } from '../../src/plan/subnets.js';

test('addresses parse strictly', (t) => {
  t.is(parseIp('10.244.1.2'), 0x0af40102);
  for (const bad of ['10.244.1', '10.244.1.256', '010.1.1.1', '1.2.3.4.5', 'a.b.c.d', ''])
    t.is(parseIp(bad), undefined, bad);
});

test('CIDR problems are explained', (t) => {
  t.is(cidrProblem('10.244.0.0/16'), undefined);
  t.is(cidrProblem('10.244.0.1/16'), '"10.244.0.1/16" has host bits set; the network is 10.244.0.0/16');
  t.is(cidrProblem('10.0.0.0/33'), 'prefix length /33 is over 32');
  t.regex(cidrProblem('10.0.0.0')!, /is not a CIDR/);
});

test('subnets, overlap and containment', (t) => {
  const pods = parseCidr('10.244.0.0/16');
  t.is(formatCidr(subnet(pods, 24, 7)), '10.244.7.0/24');
  t.true(within(parseCidr('10.244.7.0/24'), pods));
  t.false(within(pods, parseCidr('10.244.7.0/24')));
  t.true(overlaps(parseCidr('10.0.0.0/8'), parseCidr('10.96.0.0/12')));
  t.false(overlaps(parseCidr('10.244.0.0/16'), parseCidr('10.96.0.0/12')));
});

test('node ranges: overrides are kept and skipped by the others', (t) => {
  const cluster = {
    domain: 'cluster.local',
    podCIDR: '10.244.0.0/16',
    nodeMaskSize: 24,
    serviceCIDR: '10.96.0.0/12',
  };
  t.deepEqual(
    allocateNodeRanges(cluster, [{ name: 'a', podCIDR: '10.244.0.0/24' }, { name: 'b' }, { name: 'c' }]),
    [
      { ok: true, cidr: '10.244.0.0/24' },
      { ok: true, cidr: '10.244.1.0/24' },
      { ok: true, cidr: '10.244.2.0/24' },
    ],
  );
  const full = allocateNodeRanges({ ...cluster, podCIDR: '10.244.0.0/23' }, [
    { name: 'a' },
    { name: 'b' },
    { name: 'c' },
  ]);
  t.deepEqual(full[2], {
    ok: false,
    message:
      'no /24 left in 10.244.0.0/23 for this node; widen cluster.podCIDR or raise cluster.nodeMaskSize',
  });
  t.is(podCapacity('10.244.0.0/24'), 253);
});

test('unpinned replicas spread round-robin over the nodes', (t) => {
  const pod = {
    name: 'web',
    namespace: 'bar',
    replicas: 4,
    labels: {},
    restartPolicy: 'Always' as const,
    containers: [],
  };
  const pinned = {
    name: 'db',
    namespace: 'bar',
    node: 'c',
    labels: {},
    restartPolicy: 'Always' as const,
    containers: [],
  };
  const placed = expandPods({ nodes: [{ name: 'a' }, { name: 'b' }, { name: 'c' }], pods: [pod, pinned] });
  t.deepEqual(
    placed.map((p) => `${p.name}@${p.node}`),
    ['web-0@a', 'web-1@b', 'web-2@c', 'web-3@a', 'db@c'],
  );
});

test('a free node subnet avoids Docker networks and host routes', (t) => {
  t.is(pickNodeSubnet([]), '172.30.0.0/24');
  t.is(
    pickNodeSubnet([
      { cidr: '172.30.0.0/23', owner: 'lab a' },
      { cidr: '172.30.2.0/24', owner: 'VPN' },
    ]),
    '172.30.3.0/24',
  );
  t.is(pickNodeSubnet([{ cidr: '172.16.0.0/12', owner: 'everything' }]), undefined);
  t.deepEqual(collisions('172.17.5.0/24', [{ cidr: '172.17.0.0/16', owner: 'Docker network bridge' }]), [
    { cidr: '172.17.0.0/16', owner: 'Docker network bridge' },
  ]);
});

test('/proc/net/route is read as CIDRs, without the default route', (t) => {
  const text = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
    'docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
    'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
  ].join('\n');
  t.deepEqual(parseProcRoutes(text), ['172.17.0.0/16', '192.0.2.0/24']);
});

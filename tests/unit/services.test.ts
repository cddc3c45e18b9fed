import test from 'ava';
import { parseTopology } from '../../src/config/load.js';
import { planLab } from '../../src/plan/plan.js';
import { cniTemplate } from '../helpers/plan.js';

const topology = parseTopology(
  `apiVersion: podlab/v1
name: svc
cluster: {domain: lab.test}
nodes: [{name: n1}, {name: n2}]
pods:
  - name: web
    namespace: shop
    replicas: 2
    labels: {app: web}
    containers: [{name: s, ports: [{name: http, containerPort: 8080}]}]
services:
  - name: web
    namespace: shop
    type: NodePort
    selector: {app: web}
    ports: [{name: http, port: 80, targetPort: http, nodePort: 30080}]
  - name: hl
    namespace: shop
    clusterIP: None
    selector: {app: web}
    ports: [{name: http, port: 80, targetPort: 8080}]
  - name: empty
    namespace: shop
    selector: {app: nothing}
    ports: [{port: 53, protocol: UDP}]
  - name: db
    namespace: shop
    type: ExternalName
    externalName: db.example.test
`,
  '/labs/svc/lab.yaml',
).topology;

const plan = planLab(topology, {
  nodeSubnet: '172.31.9.0/24',
  nodeImage: 'podlab-node:test',
  cniTemplate,
});

test('Services get ClusterIPs in file order, skipping the first address and the DNS address', (t) => {
  t.deepEqual(
    plan.services.map((s) => [s.key, s.type, s.clusterIP]),
    [
      ['shop/web', 'NodePort', '10.96.0.2'],
      ['shop/hl', 'ClusterIP', 'None'],
      ['shop/empty', 'ClusterIP', '10.96.0.3'],
      ['shop/db', 'ExternalName', ''],
      ['kube-system/kube-dns', 'ClusterIP', '10.96.0.10'],
    ],
  );
});

test('endpoints are the selected pods at the resolved target port', (t) => {
  const ports = (key: string) =>
    plan.services
      .find((s) => s.key === key)!
      .ports.map((p) => [
        p.name ?? '',
        p.port,
        p.protocol,
        p.nodePort ?? 0,
        p.endpoints.map((e) => `${e.ip}:${e.port}`),
      ]);
  t.deepEqual(ports('shop/web'), [['http', 80, 'TCP', 30080, ['10.244.0.2:8080', '10.244.1.2:8080']]]);
  t.deepEqual(ports('shop/hl'), [['http', 80, 'TCP', 0, ['10.244.0.2:8080', '10.244.1.2:8080']]]);
  t.deepEqual(ports('shop/empty'), [['', 53, 'UDP', 0, []]]);
  t.deepEqual(ports('kube-system/kube-dns'), [
    ['dns', 53, 'UDP', 0, ['10.244.0.3:53']],
    ['dns-tcp', 53, 'TCP', 0, ['10.244.0.3:53']],
  ]);
});

test('kube-proxy rules: exact iptables-restore input', (t) => {
  t.deepEqual(plan.serviceRules.split('\n'), [
    '*nat',
    ':KUBE-SERVICES - [0:0]',
    ':KUBE-NODEPORTS - [0:0]',
    ':KUBE-POSTROUTING - [0:0]',
    ':KUBE-MARK-MASQ - [0:0]',
    ':PODLAB-EGRESS - [0:0]',
    ':KUBE-SVC-A09C818772E9C158 - [0:0]',
    ':KUBE-EXT-A09C818772E9C158 - [0:0]',
    ':KUBE-SEP-29978F9DC57642FA - [0:0]',
    ':KUBE-SEP-1E8FBF90ED94E3A3 - [0:0]',
    ':KUBE-SVC-78EA25E8C07E2274 - [0:0]',
    ':KUBE-SEP-640383EC99E03E97 - [0:0]',
    ':KUBE-SVC-D7B63C421CDD2EF6 - [0:0]',
    ':KUBE-SEP-9F8676D4F9695AF8 - [0:0]',
    '-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000',
    '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
    '-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000',
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE',
    '-A PODLAB-EGRESS ! -s 10.244.0.0/16 -j RETURN',
    '-A PODLAB-EGRESS -d 10.244.0.0/16 -j RETURN',
    '-A PODLAB-EGRESS -d 172.31.9.0/24 -j RETURN',
    '-A PODLAB-EGRESS -d 10.96.0.0/12 -j RETURN',
    '-A PODLAB-EGRESS -m comment --comment "pods to outside the lab leave with their node\'s address" -j MASQUERADE',
    '-A KUBE-SERVICES -d 10.96.0.2/32 -p tcp -m tcp --dport 80 -m comment --comment "shop/web:http cluster IP" -j KUBE-SVC-A09C818772E9C158',
    '-A KUBE-SVC-A09C818772E9C158 ! -s 10.244.0.0/16 -d 10.96.0.2/32 -p tcp -m tcp --dport 80 -m comment --comment "shop/web:http cluster IP" -j KUBE-MARK-MASQ',
    '-A KUBE-EXT-A09C818772E9C158 -m comment --comment "masquerade traffic for shop/web:http external destinations" -j KUBE-MARK-MASQ',
    '-A KUBE-EXT-A09C818772E9C158 -j KUBE-SVC-A09C818772E9C158',
    '-A KUBE-SVC-A09C818772E9C158 -m comment --comment "shop/web:http -> 10.244.0.2:8080" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-29978F9DC57642FA',
    '-A KUBE-SEP-29978F9DC57642FA -s 10.244.0.2/32 -m comment --comment "shop/web:http" -j KUBE-MARK-MASQ',
    '-A KUBE-SEP-29978F9DC57642FA -p tcp -m tcp -m comment --comment "shop/web:http" -j DNAT --to-destination 10.244.0.2:8080',
    '-A KUBE-SVC-A09C818772E9C158 -m comment --comment "shop/web:http -> 10.244.1.2:8080" -j KUBE-SEP-1E8FBF90ED94E3A3',
    '-A KUBE-SEP-1E8FBF90ED94E3A3 -s 10.244.1.2/32 -m comment --comment "shop/web:http" -j KUBE-MARK-MASQ',
    '-A KUBE-SEP-1E8FBF90ED94E3A3 -p tcp -m tcp -m comment --comment "shop/web:http" -j DNAT --to-destination 10.244.1.2:8080',
    '-A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m udp --dport 53 -m comment --comment "kube-system/kube-dns:dns cluster IP" -j KUBE-SVC-78EA25E8C07E2274',
    '-A KUBE-SVC-78EA25E8C07E2274 ! -s 10.244.0.0/16 -d 10.96.0.10/32 -p udp -m udp --dport 53 -m comment --comment "kube-system/kube-dns:dns cluster IP" -j KUBE-MARK-MASQ',
    '-A KUBE-SVC-78EA25E8C07E2274 -m comment --comment "kube-system/kube-dns:dns -> 10.244.0.3:53" -j KUBE-SEP-640383EC99E03E97',
    '-A KUBE-SEP-640383EC99E03E97 -s 10.244.0.3/32 -m comment --comment "kube-system/kube-dns:dns" -j KUBE-MARK-MASQ',
    '-A KUBE-SEP-640383EC99E03E97 -p udp -m udp -m comment --comment "kube-system/kube-dns:dns" -j DNAT --to-destination 10.244.0.3:53',
    '-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m tcp --dport 53 -m comment --comment "kube-system/kube-dns:dns-tcp cluster IP" -j KUBE-SVC-D7B63C421CDD2EF6',
    '-A KUBE-SVC-D7B63C421CDD2EF6 ! -s 10.244.0.0/16 -d 10.96.0.10/32 -p tcp -m tcp --dport 53 -m comment --comment "kube-system/kube-dns:dns-tcp cluster IP" -j KUBE-MARK-MASQ',
    '-A KUBE-SVC-D7B63C421CDD2EF6 -m comment --comment "kube-system/kube-dns:dns-tcp -> 10.244.0.3:53" -j KUBE-SEP-9F8676D4F9695AF8',
    '-A KUBE-SEP-9F8676D4F9695AF8 -s 10.244.0.3/32 -m comment --comment "kube-system/kube-dns:dns-tcp" -j KUBE-MARK-MASQ',
    '-A KUBE-SEP-9F8676D4F9695AF8 -p tcp -m tcp -m comment --comment "kube-system/kube-dns:dns-tcp" -j DNAT --to-destination 10.244.0.3:53',
    '-A KUBE-NODEPORTS -p tcp -m tcp --dport 30080 -m comment --comment "shop/web:http" -j KUBE-EXT-A09C818772E9C158',
    '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
    'COMMIT',
    '*filter',
    ':KUBE-SERVICES - [0:0]',
    ':KUBE-EXTERNAL-SERVICES - [0:0]',
    '-A KUBE-SERVICES -d 10.96.0.3/32 -p udp -m udp --dport 53 -m comment --comment "shop/empty has no endpoints" -j REJECT --reject-with icmp-port-unreachable',
    'COMMIT',
    '',
  ]);
});

test('each ClusterIP gets a /32 route on every node, before the containment routes', (t) => {
  t.deepEqual(plan.nodes[1]!.routes, [
    'route replace 10.244.0.0/24 via 172.31.9.2',
    'route replace 10.96.0.2/32 dev eth0',
    'route replace 10.96.0.3/32 dev eth0',
    'route replace 10.96.0.10/32 dev eth0',
    'route replace unreachable 10.244.0.0/16',
    'route replace unreachable 10.96.0.0/12',
  ]);
});

test('DNS records: exact dnsmasq arguments of the DNS pod', (t) => {
  const dnsPod = plan.pods.at(-1)!;
  t.is(dnsPod.key, 'kube-system/kube-dns-0');
  t.deepEqual(plan.dns, {
    clusterIP: '10.96.0.10',
    pod: 'kube-system/kube-dns-0',
    node: 'n1',
    podIP: '10.244.0.3',
  });
  t.deepEqual(dnsPod.containers[0]!.cmd, [
    'dnsmasq',
    '--keep-in-foreground',
    '--log-facility=-',
    '--user=root',
    '--no-hosts',
    '--no-resolv',
    '--domain-needed',
    '--bogus-priv',
    '--local=/lab.test/',
    '--local-ttl=5',
    '--txt-record=dns-version.lab.test,1.0.1',
    '--host-record=web.shop.svc.lab.test,10.96.0.2',
    '--srv-host=_http._tcp.web.shop.svc.lab.test,web.shop.svc.lab.test,80,10,100',
    '--host-record=web-0.hl.shop.svc.lab.test,10.244.0.2',
    '--host-record=hl.shop.svc.lab.test,10.244.0.2',
    '--host-record=web-1.hl.shop.svc.lab.test,10.244.1.2',
    '--host-record=hl.shop.svc.lab.test,10.244.1.2',
    '--srv-host=_http._tcp.hl.shop.svc.lab.test,web-0.hl.shop.svc.lab.test,8080,10,100',
    '--srv-host=_http._tcp.hl.shop.svc.lab.test,web-1.hl.shop.svc.lab.test,8080,10,100',
    '--host-record=empty.shop.svc.lab.test,10.96.0.3',
    '--cname=db.shop.svc.lab.test,db.example.test',
    '--host-record=kube-dns.kube-system.svc.lab.test,10.96.0.10',
    '--srv-host=_dns._udp.kube-dns.kube-system.svc.lab.test,kube-dns.kube-system.svc.lab.test,53,10,100',
    '--srv-host=_dns-tcp._tcp.kube-dns.kube-system.svc.lab.test,kube-dns.kube-system.svc.lab.test,53,10,100',
    '--ptr-record=3.0.244.10.in-addr.arpa,10-244-0-3.kube-system.pod.lab.test',
    '--synth-domain=default.pod.lab.test,0.0.0.0,255.255.255.255',
    '--synth-domain=kube-system.pod.lab.test,0.0.0.0,255.255.255.255',
    '--synth-domain=shop.pod.lab.test,0.0.0.0,255.255.255.255',
  ]);
});

test('a NodePort Service without nodePort gets the lowest free one', (t) => {
  const t2 = parseTopology(
    `apiVersion: podlab/v1
name: np
nodes: [{name: a}]
services:
  - {name: x, type: NodePort, ports: [{port: 80, nodePort: 30000}]}
  - {name: y, type: NodePort, ports: [{name: a, port: 80}, {name: b, port: 81}]}
`,
    'np.yaml',
  ).topology;
  const p = planLab(t2, { nodeSubnet: '172.31.9.0/24', nodeImage: 'i', cniTemplate: {} });
  t.deepEqual(
    p.services.filter((s) => s.type === 'NodePort').flatMap((s) => s.ports.map((x) => x.nodePort)),
    [30000, 30001, 30002],
  );
});

test('a Service whose named targetPort only some selected pods declare: those pods are its endpoints, in status as in the rules', (t) => {
  const mixed = parseTopology(
    `apiVersion: podlab/v1
name: mixed
nodes: [{name: a}, {name: b}]
pods:
  - {name: named, labels: {app: m}, containers: [{name: s, ports: [{name: web, containerPort: 8080}]}]}
  - {name: plain, labels: {app: m}}
services:
  - {name: m, selector: {app: m}, ports: [{port: 80, targetPort: web}]}
`,
    'mixed.yaml',
  ).topology;
  const p = planLab(mixed, { nodeSubnet: '172.31.9.0/24', nodeImage: 'i', cniTemplate: {} });
  const svc = p.services.find((s) => s.key === 'default/m')!;
  t.deepEqual(
    svc.ports[0]!.endpoints.map((e) => e.pod),
    ['default/named'],
  );
  t.deepEqual(
    svc.endpoints.map((e) => e.pod),
    ['default/named'],
    'the Service endpoints are the ones its rules route to',
  );
  t.regex(p.serviceRules, /-j DNAT --to-destination 10\.244\.0\.2:8080/);
  t.notRegex(p.serviceRules, /10\.244\.1\.2:/);
});

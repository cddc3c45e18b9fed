import test from 'ava';
import { parseTopology } from '../../src/config/load.js';
import { truthTables } from '../../src/conformance/network-policy.js';
import { ConfigError } from '../../src/errors.js';
import {
  describeVerdict,
  judge,
  type PolicyView,
  reloadPolicyRules,
  selects,
} from '../../src/plan/policy.js';
import type { LabPlan } from '../../src/plan/types.js';
import {
  cases,
  dnsCase,
  ipBlockCases,
  matrixTopology,
  type PolicyCase,
  probesOf,
} from '../helpers/netpol.js';
import { planOfText } from '../helpers/plan.js';

/** The matrix lab with a case's manifests inline. */
function planWith(manifests: string): LabPlan {
  const docs = manifests
    .split(/^---$/m)
    .map((d) => `  - ${d.trim().replace(/\n/g, '\n    ')}`)
    .join('\n');
  return planOfText(`${matrixTopology('np', '172.31.78.0/24')}networkPolicies:\n${docs}\n`, '172.31.78.0/24');
}

const base = planOfText(matrixTopology('np', '172.31.78.0/24'), '172.31.78.0/24');
const podOf = (view: PolicyView, ns: string, pod: string) => view.pods.find((p) => p.key === `${ns}/${pod}`)!;

function truthTable(c: PolicyCase): { expected: string[]; seen: string[] } {
  const plan = planWith(c.manifests);
  const expected: string[] = [];
  const seen: string[] = [];
  for (const p of probesOf(c)) {
    const row = `${p.from.ns}/${p.from.pod} → ${p.to.ns}/${p.to.pod} ${p.port}/${p.protocol}`;
    expected.push(`${row} ${c.allowed(p) ? 'allowed' : 'denied'}`);
    const v = judge(
      plan.policy,
      { pod: podOf(plan.policy, p.from.ns, p.from.pod) },
      { pod: podOf(plan.policy, p.to.ns, p.to.pod) },
      p.port,
      p.protocol,
    );
    seen.push(`${row} ${v.allowed ? 'allowed' : 'denied'}`);
  }
  return { expected, seen };
}

const ipOf = ({ ns, pod }: { ns: string; pod: string }) => podOf(base.policy, ns, pod).ip;
for (const c of [...cases, ...ipBlockCases(ipOf, base.podCIDR), dnsCase]) {
  test(`policy truth table: ${c.name}`, (t) => {
    const { expected, seen } = truthTable(c);
    t.deepEqual(seen, expected);
  });
}

test('there are at least 15 policy cases, each denying something and allowing something', (t) => {
  const all = [...cases, ...ipBlockCases(ipOf, base.podCIDR), dnsCase];
  t.true(all.length >= 15);
  for (const c of all.filter((x) => x.name !== 'should support allow-all policy')) {
    const rows = probesOf(c).map((p) => c.allowed(p));
    t.true(rows.includes(false) && rows.includes(true), c.name);
  }
});

test('egress to DNS: the DNS pod is reached on 53, nothing else from x', (t) => {
  const plan = planWith(dnsCase.manifests);
  const dns = plan.policy.pods.find((p) => p.key === plan.dns.pod)!;
  const xa = { pod: podOf(plan.policy, 'x', 'a') };
  t.true(judge(plan.policy, xa, { pod: dns }, 53, 'UDP').allowed);
  t.true(judge(plan.policy, xa, { pod: dns }, 53, 'TCP').allowed);
  t.false(judge(plan.policy, xa, { pod: dns }, 80, 'TCP').allowed);
  t.false(judge(plan.policy, xa, { pod: podOf(plan.policy, 'y', 'a') }, 80, 'TCP').allowed);
});

test('a pod and its own node always reach each other; another node is judged like any address', (t) => {
  const plan = planWith(cases[1]!.manifests); // default-deny-all in x
  const xa = podOf(plan.policy, 'x', 'a');
  const own = plan.nodes.find((n) => n.name === xa.node)!;
  const other = plan.nodes.find((n) => n.name !== xa.node)!;
  t.true(judge(plan.policy, { ip: own.ip }, { pod: xa }, 80, 'TCP').allowed);
  t.true(judge(plan.policy, { pod: xa }, { ip: own.ip }, 80, 'TCP').allowed);
  t.false(judge(plan.policy, { ip: other.ip }, { pod: xa }, 80, 'TCP').allowed);
  t.false(judge(plan.policy, { pod: xa }, { ip: other.ip }, 80, 'TCP').allowed);
  t.true(judge(plan.policy, { pod: xa }, { pod: xa }, 80, 'TCP').allowed, 'itself');
});

test('ICMP passes only rules without ports', (t) => {
  const ports = planWith(cases.find((c) => c.name.includes('based on Ports'))!.manifests);
  const open = planWith(
    cases.find((c) => c.name.includes('different namespace, based on NamespaceSelector'))!.manifests,
  );
  const yb = (p: LabPlan) => ({ pod: podOf(p.policy, 'y', 'b') });
  const xa = (p: LabPlan) => ({ pod: podOf(p.policy, 'x', 'a') });
  t.false(judge(ports.policy, yb(ports), xa(ports), 0, 'ICMP').allowed);
  t.true(judge(open.policy, yb(open), xa(open), 0, 'ICMP').allowed);
});

test('a verdict names the rules that allow and the policies that isolate', (t) => {
  const plan = planWith(cases.find((c) => c.name.includes('(union)'))!.manifests);
  const v = judge(
    plan.policy,
    { pod: podOf(plan.policy, 'z', 'a') },
    { pod: podOf(plan.policy, 'x', 'a') },
    80,
    'TCP',
  );
  t.deepEqual(v.ingress.allowedBy, [{ policy: 'x/from-z', direction: 'ingress', rule: 0 }]);
  t.deepEqual(v.ingress.isolatedBy, ['x/from-y', 'x/from-z']);
  const denied = judge(
    plan.policy,
    { pod: podOf(plan.policy, 'y', 'a') },
    { pod: podOf(plan.policy, 'x', 'b') },
    80,
    'TCP',
  );
  t.false(denied.allowed);
  t.regex(describeVerdict(denied), /ingress denied: the destination is isolated by x\/from-z/);
});

test('label selectors: matchLabels and every operator, {} selects all', (t) => {
  const labels = { app: 'web', tier: 'front' };
  t.true(selects({}, labels));
  t.true(selects({ matchLabels: { app: 'web' } }, labels));
  t.false(selects({ matchLabels: { app: 'db' } }, labels));
  t.true(selects({ matchExpressions: [{ key: 'app', operator: 'In', values: ['db', 'web'] }] }, labels));
  t.false(selects({ matchExpressions: [{ key: 'env', operator: 'In', values: ['prod'] }] }, labels));
  t.true(
    selects({ matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] }, labels),
    'NotIn holds without the key',
  );
  t.false(selects({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['front'] }] }, labels));
  t.true(selects({ matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, labels));
  t.true(selects({ matchExpressions: [{ key: 'env', operator: 'DoesNotExist' }] }, labels));
  t.false(
    selects(
      { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] },
      labels,
    ),
  );
});

test('rules: a node holds chains only for its isolated pods, with the allowed peers and a drop at the end', (t) => {
  const plan = planWith(cases.find((c) => c.name.includes('one peer: AND'))!.manifests);
  const xa = podOf(plan.policy, 'x', 'a');
  const yb = podOf(plan.policy, 'y', 'b');
  const rules = plan.nodes.find((n) => n.name === xa.node)!.policyRules.split('\n');
  t.true(rules.includes('*filter') && rules.at(-2) === 'COMMIT');
  t.true(rules.some((l) => l.startsWith(`-A PODLAB-POLICY -d ${xa.ip}/32`)));
  t.true(
    rules.some(
      (l) =>
        l.includes(`-s ${yb.ip}/32`) &&
        l.includes('x/b-in-ns-y ingress[0]') &&
        l.includes('--set-xmark 0x10000/0x10000'),
    ),
  );
  t.is(rules.filter((l) => l.includes('-j MARK --set-xmark 0x10000/0x10000')).length, 1, 'exactly y/b');
  t.true(rules.some((l) => / -j DROP$/.test(l)));
  const other = plan.nodes.find((n) => n.name !== xa.node)!;
  t.deepEqual(other.policyRules.split('\n'), ['*filter', ':PODLAB-POLICY - [0:0]', 'COMMIT', '']);
  t.deepEqual(base.nodes[0]!.policyRules.split('\n'), ['*filter', ':PODLAB-POLICY - [0:0]', 'COMMIT', '']);
});

test('rules: ipBlock except goes through a chain of its own; ports become dport matches; named ports resolve per pod', (t) => {
  const [egress] = ipBlockCases(ipOf, base.podCIDR);
  const plan = planWith(egress!.manifests);
  const xa = podOf(plan.policy, 'x', 'a');
  const text = plan.nodes.find((n) => n.name === xa.node)!.policyRules;
  t.regex(text, new RegExp(`-A PODLAB-X-\\w+ -d ${ipOf({ ns: 'y', pod: 'a' })}/32 .* -j RETURN`));
  t.regex(text, /-A PODLAB-E-\w+ -d 10\.77\.0\.0\/16 .* -j PODLAB-X-\w+/);
  const named = planWith(cases.find((c) => c.name.includes('egress access on one named port'))!.manifests);
  const lines = named.nodes.flatMap((n) => n.policyRules.split('\n'));
  t.true(lines.some((l) => / -p tcp -m tcp --dport 81 /.test(l)));
  t.false(lines.some((l) => /--dport 80 /.test(l)));
  const ranged = planWith(cases.find((c) => c.name.includes('endPort'))!.manifests);
  t.true(ranged.nodes.some((n) => n.policyRules.includes('--dport 81:90')));
});

test('reloading policy rules deletes the chains of pods no longer isolated', (t) => {
  const from = planWith(cases[1]!.manifests);
  const node = from.nodes[0]!.name;
  const to = base.nodes.find((n) => n.name === node)!.policyRules;
  const text = reloadPolicyRules(from.nodes[0]!.policyRules, to);
  const stale = [...from.nodes[0]!.policyRules.matchAll(/^:(PODLAB-[IE]-\S+)/gm)].map((m) => m[1]!);
  t.true(stale.length > 0);
  for (const c of stale) t.true(text.includes(`-X ${c}`));
  t.is(reloadPolicyRules(to, to), to);
});

test('policy files: several documents, paths relative to the topology, other kinds refused by name', (t) => {
  const dir = `${process.cwd()}/tests/fixtures/config/policies`;
  const topo = `${matrixTopology('np', '172.31.78.0/24')}networkPolicies:\n  - policies/two.yaml\n  - {metadata: {name: inline, namespace: y}, spec: {podSelector: {}}}\n`;
  const loaded = parseTopology(topo, `${dir}/../lab.yaml`).topology;
  t.deepEqual(
    loaded.networkPolicies.map((p) => [p.metadata.namespace, p.metadata.name, p.spec.policyTypes]),
    [
      ['x', 'first', ['Ingress']],
      ['default', 'second', ['Ingress', 'Egress']],
      ['y', 'inline', ['Ingress']],
    ],
  );
  const bad = t.throws(() => parseTopology(topo.replace('two.yaml', 'mixed.yaml'), `${dir}/../lab.yaml`), {
    instanceOf: ConfigError,
  });
  t.regex(
    bad!.message,
    /mixed\.yaml, document 2: is a Deployment \(apps\/v1\); podlab takes NetworkPolicy manifests/,
  );
  t.regex(bad!.message, /policies\/mixed\.yaml:\d+:\d+/);
  const missing = t.throws(() => parseTopology(topo.replace('two.yaml', 'nope.yaml'), `${dir}/../lab.yaml`));
  t.regex(missing!.message, /cannot read the policy file policies\/nope\.yaml .*no such file/);
});

test('policy validation is the API server’s, with positions', (t) => {
  const topo = `${matrixTopology('np', '172.31.78.0/24')}networkPolicies:
  - metadata: {name: Bad_Name, namespace: x}
    spec:
      podSelector: {matchExpressions: [{key: app, operator: In}, {key: tier, operator: Exists, values: [a]}]}
      ingress:
        - from:
            - {}
            - {ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/24]}, podSelector: {}}
            - ipBlock: {cidr: 10.0.0.1/8}
          ports: [{port: 0}, {port: web, endPort: 90}, {port: 90, endPort: 80}, {port: Not_A_Name}]
  - metadata: {name: twice, namespace: x}
    spec: {podSelector: {}}
  - metadata: {name: twice, namespace: x}
    spec: {podSelector: {}, policyTypes: [Egress, Egress]}
`;
  const error = t.throws(() => parseTopology(topo, 'test.yaml'), { instanceOf: ConfigError });
  const text = error!.message;
  for (const want of [
    /metadata\.name: "Bad_Name" is not a valid NetworkPolicy name/,
    /operator In needs values/,
    /operator Exists takes no values/,
    /from\[0\]: a peer needs podSelector, namespaceSelector or ipBlock/,
    /ipBlock may not be combined with podSelector/,
    /11\.0\.0\.0\/24 is not strictly inside 10\.0\.0\.0\/8/,
    /has host bits set/,
    /port 0 is outside 1-65535/,
    /endPort needs a numeric port/,
    /endPort 80 must be between port \(90\) and 65535/,
    /"Not_A_Name" is neither a port number nor a port name/,
    /duplicate NetworkPolicy x\/twice/,
    /each policy type may appear once/,
    /test\.yaml:\d+:\d+/,
  ])
    t.regex(text, want);
});

test('a topology without policies keeps its hash; policies are part of it', (t) => {
  const plain = planOfText(matrixTopology('np', '172.31.78.0/24'), '172.31.78.0/24');
  const empty = planOfText(
    `${matrixTopology('np', '172.31.78.0/24')}networkPolicies: []\n`,
    '172.31.78.0/24',
  );
  t.is(plain.topologyHash, empty.topologyHash);
  t.not(planWith(cases[0]!.manifests).topologyHash, plain.topologyHash);
});

test('the truth table marks each cell, and the differences', (t) => {
  const row = (
    from: string,
    to: string,
    expected: 'allowed' | 'denied',
    seen: 'allowed' | 'denied' | 'unknown',
  ) => ({
    from,
    to,
    port: 80,
    protocol: 'TCP' as const,
    expected,
    seen,
    why: '',
  });
  const text = truthTables(
    [
      row('x/a', 'x/b', 'allowed', 'allowed'),
      row('x/b', 'x/a', 'denied', 'allowed'),
      row('y/a', 'x/a', 'allowed', 'denied'),
      row('y/a', 'x/b', 'denied', 'denied'),
    ],
    [{ key: 'x/a' }, { key: 'x/b' }, { key: 'y/a' }],
  );
  t.deepEqual(text.split('\n').slice(0, 4), [
    '80/TCP x/a x/b',
    'x/a      -   .',
    'x/b     !.   -',
    'y/a     !X   X',
  ]);
  t.regex(text, /!\. got through though denied, !X dropped though allowed/);
});

test('a hostile policy file (an alias bomb) is refused like a hostile topology', (t) => {
  const dir = `${process.cwd()}/tests/fixtures/config/policies`;
  const topo = `${matrixTopology('np', '172.31.78.0/24')}networkPolicies: [policies/bomb.yaml]\n`;
  const error = t.throws(() => parseTopology(topo, `${dir}/../lab.yaml`), { instanceOf: ConfigError });
  t.regex(error!.message, /bomb\.yaml: .*alias/i);
});

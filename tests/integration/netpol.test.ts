import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import test from 'ava';
import type { TruthRow } from '../../src/conformance/check.js';
import { writeTopology } from '../helpers/context.js';
import { lab, labOk, ownLabs, status } from '../helpers/lab.js';
import {
  cases,
  dnsCase,
  ipBlockCases,
  matrixTopology,
  type Peer,
  type PolicyCase,
  probesOf,
} from '../helpers/netpol.js';

// This file's own lab: Kubernetes' netpol matrix (namespaces x, y, z × pods a, b, c, serving TCP and
// UDP 80 and 81) on three nodes, named itest-np, on 172.31.213.0/24 with pods in 10.212.0.0/16.
// Each case is applied to the running lab with `lab policy apply`, probed for real by the
// network-policy check, and the probed truth table must equal the case's own expectation.
const name = 'itest-np';
const podCIDR = '10.212.0.0/16';
let file: string;
let ipOf: (p: Peer) => string;

ownLabs(name);
test.before(async (t) => {
  file = writeTopology(matrixTopology(name, '172.31.213.0/24', { podCIDR, nodes: 3 }));
  await labOk(t, ['up', '-f', file]);
  const pods = (await status(t, name)).pods as { namespace: string; name: string; ip: string }[];
  ipOf = ({ ns, pod }) => pods.find((p) => p.namespace === ns && p.name === pod)!.ip;
});

/** The network-policy check's result, through the JSON reporter. */
async function policyCheck(): Promise<{ status: string; seen: string; truthTable: TruthRow[]; run: string }> {
  const run = await lab(['test', name, '--only', 'network-policy', '--reporter', 'json']);
  const report = JSON.parse(run.stdout) as {
    checks: { id: string; status: string; seen: string; truthTable?: TruthRow[] }[];
  };
  const check = report.checks.find((c) => c.id === 'network-policy')!;
  return { status: check.status, seen: check.seen, truthTable: check.truthTable ?? [], run: run.stderr };
}

/** Applies the case, probes, compares with the case's own expectation, and removes the case's policies. */
async function roundTrip(t: import('ava').ExecutionContext, c: PolicyCase): Promise<void> {
  const manifests = join(dirname(file), 'case.yaml');
  writeFileSync(manifests, c.manifests);
  await labOk(t, ['policy', 'apply', manifests, '--lab', name]);
  const check = await policyCheck();
  const seen = new Map<string, string>(
    check.truthTable.map((r) => [`${r.from} ${r.to} ${r.port}/${r.protocol}`, r.seen]),
  );
  const differ: string[] = [];
  for (const p of probesOf(c)) {
    const row = `${p.from.ns}/${p.from.pod} ${p.to.ns}/${p.to.pod} ${p.port}/${p.protocol}`;
    const want = c.allowed(p) ? 'allowed' : 'denied';
    if (seen.get(row) !== want) differ.push(`${row}: expected ${want}, probed ${seen.get(row) ?? 'nothing'}`);
  }
  t.deepEqual(differ, [], `${check.seen}`);
  t.is(check.status, 'passed', check.seen);
  const keys = [...c.manifests.matchAll(/metadata: \{name: ([\w-]+), namespace: (\w+)\}/g)].map(
    (m) => `${m[2]}/${m[1]}`,
  );
  t.true(keys.length > 0);
  await labOk(t, ['policy', 'delete', ...keys, '--lab', name]);
}

for (const c of [...cases, dnsCase]) test.serial(`probed truth table: ${c.name}`, (t) => roundTrip(t, c));

for (const [i, title] of ['egress ipBlock with except', 'ingress ipBlock with except'].entries())
  test.serial(`probed truth table: ${title}`, (t) => roundTrip(t, ipBlockCases(ipOf, podCIDR)[i]!));

test.serial('a rule removed from a node by hand: network-policy fails, naming the pairs', async (t) => {
  const c = cases.find((x) => x.name.includes('within server namespace based on PodSelector'))!;
  const manifests = join(dirname(file), 'case.yaml');
  writeFileSync(manifests, c.manifests);
  await labOk(t, ['policy', 'apply', manifests, '--lab', name]);
  // x/a admits only x/b: take the drop of its ingress chain away on its node.
  const pods = (await status(t, name)).pods as { namespace: string; name: string; node: string }[];
  const node = pods.find((p) => p.namespace === 'x' && p.name === 'a')!.node;
  const rules = (await labOk(t, ['exec', node, '--lab', name, '--', 'iptables', '-S'])).stdout;
  const drop = rules
    .split('\n')
    .find((l) => /^-A PODLAB-I-\w+ .*x\/a: no ingress rule allows it.* -j DROP$/.test(l));
  t.truthy(drop, rules);
  await labOk(t, ['exec', node, '--lab', name, '--', 'sh', '-c', `iptables ${drop!.replace(/^-A/, '-D')}`]);
  const run = await lab(['test', name, '--only', 'network-policy']);
  t.is(run.code, 1, run.stdout);
  t.regex(run.stdout, /y\/a → x\/a 80\/TCP allowed \(expected denied\)/);
  t.regex(run.stdout, /!\./, 'the truth table marks what got through');
  // lab policy explain --probe says the lab disagrees with the plan.
  const explain = await lab(['policy', 'explain', 'y/a', 'x/a', '80/TCP', '--probe', '--lab', name]);
  t.is(explain.code, 1, explain.stdout);
  t.regex(explain.stdout, /y\/a → x\/a 80\/TCP: denied/);
  t.regex(explain.stdout, /probe: refused \(NOT as the policies say/);
  // Deleting the policy reloads the node's rules: the stale chain goes, and nothing is judged.
  await labOk(t, ['policy', 'delete', 'x/x-a-allows-x-b', '--lab', name]);
  const after = (await labOk(t, ['exec', node, '--lab', name, '--', 'iptables', '-S'])).stdout;
  t.notRegex(after, /PODLAB-I-/);
  t.regex(after, /-A FORWARD -j PODLAB-POLICY/);
});

test.serial('lab policy ls and explain say which policies select and decide', async (t) => {
  const c = cases.find((x) => x.name.includes('(union)'))!;
  const manifests = join(dirname(file), 'case.yaml');
  writeFileSync(manifests, c.manifests);
  const created = await labOk(t, ['policy', 'apply', manifests, '--lab', name]);
  t.regex(created.stdout, /created: networkpolicy x\/from-y\ncreated: networkpolicy x\/from-z/);
  const again = await labOk(t, ['policy', 'apply', manifests, '--lab', name]);
  t.regex(again.stdout, /unchanged: networkpolicy x\/from-y/);
  const ls = JSON.parse((await labOk(t, ['policy', 'ls', '--json', '--lab', name])).stdout) as {
    policies: { namespace: string; name: string; pods: string[] }[];
  };
  t.deepEqual(
    ls.policies.map((p) => [p.namespace, p.name, p.pods]),
    [
      ['x', 'from-y', ['x/a']],
      ['x', 'from-z', ['x/a', 'x/b', 'x/c']],
    ],
  );
  const explain = await labOk(t, ['policy', 'explain', 'z/b', 'x/a', '81', '--probe', '--lab', name]);
  t.regex(explain.stdout, /z\/b → x\/a 81\/TCP: allowed/);
  t.regex(explain.stdout, /allowed by x\/from-z ingress\[0\]: from all pods in namespaces ns=z/);
  t.regex(explain.stdout, /probe: refused \(as the policies say\)/);
  await labOk(t, ['policy', 'delete', 'x/from-y', 'x/from-z', '--lab', name]);
  // A lab with policies still passes every other check, each judging only what the policies allow.
  writeFileSync(manifests, cases[1]!.manifests);
  await labOk(t, ['policy', 'apply', manifests, '--lab', name]);
  const all = await lab(['test', name, '--reporter', 'json']);
  t.is(all.code, 0, all.stdout);
  const report = JSON.parse(all.stdout) as { checks: { id: string; seen: string }[] };
  t.regex(
    report.checks.find((c) => c.id === 'pod-to-pod-no-nat')!.seen,
    /the lab's NetworkPolicies deny were not made/,
  );
  await labOk(t, ['policy', 'delete', 'x/deny-all', '--lab', name]);
  const none = await lab(['policy', 'delete', 'x/from-y', '--lab', name]);
  t.is(none.code, 2);
  t.regex(none.stderr, /has no NetworkPolicy x\/from-y/);
});

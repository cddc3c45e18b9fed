import { describeVerdict, judge, type PolicyPod } from '../plan/policy.js';
import { count } from '../text.js';
import {
  type Check,
  type CheckContext,
  fail,
  key,
  pass,
  running,
  skip,
  type TruthRow,
  uncertain,
} from './check.js';
import { type ConnectResult, patience, reached } from './probes.js';

const rule =
  'NetworkPolicy: every pod reaches another pod on a declared port exactly when the policies allow it (ingress and egress, union of rules, replies pass)';

/**
 * Seconds a probe waits for a sign of life the first time. A reply on a lab's own veths takes
 * milliseconds; the run then measures how long its answered probes took, and a denied probe's
 * silence counts only when the wait was at least four times the slowest answer (else it is asked
 * again, waiting that long), so that a slow machine never makes a dropped packet of a late one.
 */
const firstWait = 1;

/**
 * Every ordered pair of running pods, on every port and protocol the destination declares: what the
 * plan expects (policy.ts) and what a probe from the source's network namespace sees. A probe that
 * should get through and did not is asked again alone, with time to spare, before it counts (a busy
 * machine is slow, never a policy); one that got through where it should not is a failure at once.
 */
export const networkPolicy: Check = {
  id: 'network-policy',
  rule,
  async run(ctx: CheckContext) {
    const view = ctx.state.plan?.policy;
    if (!view || view.policies.length === 0)
      return skip(rule, 'the lab has no NetworkPolicies (lab policy apply FILE adds some)');
    const up = new Map(running(ctx.state).map((p) => [key(p), p]));
    const pods = view.pods.filter((p) => up.get(p.key)?.ip === p.ip);
    const rows: (TruthRow & { fromPod: PolicyPod; toPod: PolicyPod })[] = [];
    for (const from of pods)
      for (const to of pods) {
        if (from.key === to.key) continue;
        for (const port of to.ports) {
          const v = judge(view, { pod: from }, { pod: to }, port.port, port.protocol);
          rows.push({
            from: from.key,
            to: to.key,
            port: port.port,
            protocol: port.protocol,
            expected: v.allowed ? 'allowed' : 'denied',
            seen: 'unknown',
            why: describeVerdict(v),
            fromPod: from,
            toPod: to,
          });
        }
      }
    if (rows.length === 0) return skip(rule, 'no running pod declares a container port to probe');
    const probe = (list: typeof rows, timeout: number) =>
      ctx.probes.connect(
        list.map((r) => ({ from: r.from, ip: r.toPod.ip, port: r.port, protocol: r.protocol, timeout })),
      );
    const first = await probe(rows, firstWait);
    const results = new Map<(typeof rows)[number], ConnectResult>(rows.map((r, i) => [r, first[i]!]));
    const slowestOf = (list: ConnectResult[]) => Math.max(0, ...list.filter(reached).map((r) => r.ms));
    // Allowed but not through: asked again alone, with the patience a slow machine needs.
    const quiet = (r: (typeof rows)[number]) => results.get(r)!.result === 'timeout';
    const again = rows.filter((r) => r.expected === 'allowed' && quiet(r));
    const allowedAgain = again.length ? await probe(again, patience(slowestOf(first))) : [];
    for (const [i, r] of again.entries()) results.set(r, allowedAgain[i]!);
    // Denied and silent: asked again, waiting longer, when the answers of this run (the second round's
    // too: on a machine too slow for the first, they come there) show the first wait was short.
    const slowest = slowestOf([...first, ...allowedAgain]);
    const unsure =
      firstWait * 1000 < 4 * slowest ? rows.filter((r) => r.expected === 'denied' && quiet(r)) : [];
    const deniedAgain = unsure.length ? await probe(unsure, Math.ceil((4 * slowest) / 1000)) : [];
    for (const [i, r] of unsure.entries()) results.set(r, deniedAgain[i]!);
    const unknown: string[] = [];
    for (const r of rows) {
      const got = results.get(r)!;
      if (reached(got)) r.seen = 'allowed';
      else if (got.result === 'timeout') r.seen = 'denied';
      else unknown.push(`${r.from} → ${r.to} ${r.port}/${r.protocol}: ${got.result}`);
    }
    const table = rows.map(({ fromPod: _f, toPod: _t, ...row }) => row);
    const wrong = table.filter((r) => r.seen !== 'unknown' && r.seen !== r.expected);
    const expected = `${count(table.length, 'probe')} of ${count(pods.length, 'pod')} follow the ${count(view.policies.length, 'NetworkPolicy', 'NetworkPolicies')}: ${table.filter((r) => r.expected === 'allowed').length} allowed, ${table.filter((r) => r.expected === 'denied').length} denied`;
    const evidence = [
      truthTables(table, pods),
      ...wrong
        .slice(0, 12)
        .map(
          (r) =>
            `${r.from} → ${r.to} ${r.port}/${r.protocol}: expected ${r.expected} (${r.why}), seen ${r.seen}`,
        ),
    ];
    if (wrong.length)
      return {
        ...fail(
          expected,
          `${count(wrong.length, 'probe')} differ: ${wrong
            .slice(0, 6)
            .map((r) => `${r.from} → ${r.to} ${r.port}/${r.protocol} ${r.seen} (expected ${r.expected})`)
            .join('; ')}${wrong.length > 6 ? '; …' : ''}`,
          evidence,
          wrong.some((r) => r.seen === 'allowed')
            ? "traffic the policies deny got through: look for a missing DROP or a rule too wide in the destination's node (lab exec NODE -- iptables -S PODLAB-POLICY, then the pod's PODLAB-I-*/PODLAB-E-* chain)"
            : 'traffic the policies allow was dropped: compare the node chains with `lab policy explain FROM TO PORT` (a UDP server that answers nothing to a DNS query looks dropped too)',
        ),
        truthTable: table,
      };
    if (unknown.length)
      return {
        ...uncertain(
          expected,
          `${count(unknown.length, 'probe')} could not run: ${unknown.slice(0, 4).join('; ')}`,
          evidence,
        ),
        truthTable: table,
      };
    return { ...pass(expected, 'every probe as expected', [truthTables(table, pods)]), truthTable: table };
  },
};

/**
 * The truth tables, one per port and protocol, as the upstream suite prints them: a row per source,
 * a column per destination; `.` allowed, `X` denied, and where seen differs from expected `!.` (got
 * through though denied) or `!X` (dropped though allowed); `-` where nothing was probed.
 */
export function truthTables(rows: TruthRow[], pods: { key: string }[]): string {
  const columns = [...new Set(rows.map((r) => `${r.port}/${r.protocol}`))];
  const keys = pods.map((p) => p.key).filter((k) => rows.some((r) => r.from === k || r.to === k));
  return columns
    .map((column) => {
      const width = Math.max(column.length, ...keys.map((k) => k.length));
      const cells = new Map(
        rows.filter((r) => `${r.port}/${r.protocol}` === column).map((r) => [`${r.from} ${r.to}`, r]),
      );
      const targets = keys.filter((k) => [...cells.values()].some((r) => r.to === k));
      const header = `${column.padEnd(width)} ${targets.map((t) => t.padStart(Math.max(3, t.length))).join(' ')}`;
      const lines = keys.map((from) => {
        const cols = targets.map((to) => {
          const r = cells.get(`${from} ${to}`);
          const mark = !r
            ? '-'
            : r.seen === 'unknown'
              ? '?'
              : r.seen === r.expected
                ? r.expected === 'allowed'
                  ? '.'
                  : 'X'
                : r.seen === 'allowed'
                  ? '!.'
                  : '!X';
          return mark.padStart(Math.max(3, to.length));
        });
        return `${from.padEnd(width)} ${cols.join(' ')}`;
      });
      return [header, ...lines].join('\n');
    })
    .join('\n\n')
    .concat(
      '\n(. allowed, X denied, !. got through though denied, !X dropped though allowed, ? not known, - not probed)',
    );
}

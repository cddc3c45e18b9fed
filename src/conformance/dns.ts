import { contains, parseCidr, parseIp } from '../net/ipv4.js';
import { parseResolvConf } from '../net/resolv.js';
import { dnsService } from '../plan/services.js';
import type { LabState } from '../state/observe.js';
import { count } from '../text.js';
import {
  type Check,
  type CheckContext,
  type CheckOutcome,
  fail,
  key,
  pass,
  policyDenies,
  running,
  skip,
} from './check.js';

/** Services that DNS names (all but kube-dns itself and ExternalName, whose target lies outside). */
function named(state: LabState) {
  return state.services.filter((s) => s.type !== 'ExternalName' && s.namespace !== dnsService.namespace);
}

/** Running pods whose queries the lab's NetworkPolicies let reach the DNS pod (every pod, without policies). */
function askers(state: LabState) {
  const dnsIp = state.dns?.podIP;
  return running(state).filter((p) => !dnsIp || !policyDenies(state, key(p), dnsIp, 53, 'UDP'));
}

/** `; pods the lab's NetworkPolicies keep from DNS were not asked: x/a, x/b` (empty without such pods). */
function deniedNote(state: LabState): string {
  const asking = new Set(askers(state).map(key));
  const denied = running(state)
    .filter((p) => !asking.has(key(p)))
    .map(key);
  return denied.length
    ? `; pods the lab's NetworkPolicies keep from DNS were not asked: ${denied.slice(0, 6).join(', ')}${denied.length > 6 ? ', …' : ''}`
    : '';
}

/** Answers a resolution must contain for a Service: its ClusterIP, or for headless its endpoints. */
function wantedAnswers(s: LabState['services'][number]): string[] {
  return s.clusterIP === 'None' ? s.endpoints.map((e) => e.ip) : [s.clusterIP];
}

export const dnsSameNamespace: Check = {
  id: 'dns-same-namespace',
  rule: 'a pod resolves a Service of its own namespace by its short name',
  async run(ctx) {
    const expected =
      '<service> resolves from a pod of the same namespace to its ClusterIP (headless: its pods)';
    const queries = named(ctx.state).flatMap((s) => {
      // Not a pod named as the Service: its own hostname (in its /etc/hosts) would answer.
      const from = askers(ctx.state).find((p) => p.namespace === s.namespace && p.name !== s.name);
      return from ? [{ s, from: key(from), name: s.name }] : [];
    });
    return resolveAndJudge(ctx, expected, queries, 'no Service with a pod of its own namespace to ask from');
  },
};

export const dnsCrossNamespace: Check = {
  id: 'dns-cross-namespace',
  rule: 'a pod of another namespace resolves <service>.<namespace>, and not <service> alone',
  async run(ctx) {
    const expected = '<service>.<ns> resolves from another namespace; <service> alone does not';
    const queries = named(ctx.state).flatMap((s) => {
      const from = askers(ctx.state).find(
        (p) =>
          p.namespace !== s.namespace &&
          p.namespace !== dnsService.namespace &&
          p.name !== s.name &&
          !ctx.state.services.some((o) => o.namespace === p.namespace && o.name === s.name),
      );
      return from
        ? [
            { s, from: key(from), name: `${s.name}.${s.namespace}` },
            { s, from: key(from), name: s.name, absent: true },
          ]
        : [];
    });
    return resolveAndJudge(ctx, expected, queries, 'no Service with a pod of another namespace to ask from');
  },
};

export const dnsFqdn: Check = {
  id: 'dns-fqdn',
  rule: 'every pod resolves <service>.<namespace>.svc.<domain>',
  async run(ctx) {
    const expected = 'the fully qualified name of each Service resolves from a pod of every namespace';
    const namespaces = [...new Set(askers(ctx.state).map((p) => p.namespace))].filter(
      (n) => n !== dnsService.namespace,
    );
    const queries = named(ctx.state).flatMap((s) =>
      namespaces.map((ns) => ({
        s,
        from: key(askers(ctx.state).find((p) => p.namespace === ns)!),
        name: `${s.name}.${s.namespace}.svc.${ctx.state.domain}`,
      })),
    );
    return resolveAndJudge(
      ctx,
      expected,
      queries,
      named(ctx.state).length === 0 ? 'no Services' : 'no running pod outside kube-system to ask from',
    );
  },
};

export const dnsResolvConf: Check = {
  id: 'dns-resolv-conf',
  rule: "each pod's resolver points at the DNS Service with the Kubernetes search list and ndots:5",
  async run(ctx) {
    const dns = ctx.state.dns;
    const domain = ctx.state.domain;
    const expected = `nameserver ${dns?.clusterIP}, search <ns>.svc.${domain} svc.${domain} ${domain}, options ndots:5`;
    if (!dns) return skip(expected, 'the lab has no DNS');
    const confs = await ctx.probes.resolvConfs();
    const wrong: string[] = [];
    for (const p of running(ctx.state)) {
      const text = confs.get(key(p));
      if (text === undefined) {
        wrong.push(`${key(p)}: resolv.conf not readable`);
        continue;
      }
      const conf = parseResolvConf(text);
      const search = [`${p.namespace}.svc.${domain}`, `svc.${domain}`, domain];
      const problems = [
        conf.nameservers[0] !== dns.clusterIP ? `nameserver ${conf.nameservers[0] ?? 'none'}` : '',
        conf.search.join(' ') !== search.join(' ') ? `search ${conf.search.join(' ') || '(none)'}` : '',
        conf.ndots !== 5 ? `ndots:${conf.ndots}` : '',
      ].filter(Boolean);
      if (problems.length) wrong.push(`${key(p)}: ${problems.join(', ')}`);
    }
    return wrong.length
      ? fail(expected, wrong.join('\n'), [], 'read it: lab exec NS/POD -- cat /etc/resolv.conf')
      : pass(expected, `${count(running(ctx.state).length, 'pod')}: each has the kubelet's resolver`);
  },
};

export const dnsPodNetwork: Check = {
  id: 'dns-pod-network',
  rule: 'the DNS pod runs inside the pod network (its IP is a pod IP) and answers behind its Service',
  async run(ctx) {
    const dns = ctx.state.dns;
    const expected =
      'the DNS pod has an IP of its node’s pod range and answers queries sent to the DNS Service IP';
    if (!dns) return skip(expected, 'the lab has no DNS');
    const pod = ctx.state.pods.find((p) => key(p) === dns.pod);
    const node = ctx.state.nodes.find((n) => n.name === dns.node);
    const problems: string[] = [];
    if (pod?.state !== 'running' || !pod.ip)
      problems.push(`DNS pod ${dns.pod} is ${pod ? pod.state : 'missing'}`);
    else if (!node || !contains(parseCidr(node.podCIDR), parseIp(pod.ip)!))
      problems.push(`DNS pod IP ${pod.ip} is outside node ${dns.node}'s pod range`);
    const client = askers(ctx.state).find((p) => p.namespace !== dnsService.namespace);
    if (client) {
      const name = `${dnsService.name}.${dnsService.namespace}.svc.${ctx.state.domain}`;
      const [r] = await ctx.probes.resolve([{ from: key(client), name }]);
      if (r?.code !== 0 || !r.answer.startsWith(`${dns.clusterIP} `))
        problems.push(
          `${key(client)} could not resolve ${name} through ${dns.clusterIP}: ${r?.answer.trim() || `exit ${r?.code}`}`,
        );
    }
    return problems.length
      ? fail(
          expected,
          problems.join('\n'),
          [],
          `look at the DNS pod: lab exec ${dns.pod} -- ps; and the kube-dns rules: lab exec ${dns.node} -- iptables -t nat -S KUBE-SERVICES`,
        )
      : pass(
          expected,
          `${dns.pod} at ${pod!.ip} (node ${dns.node}, ${node!.podCIDR}) answers at ${dns.clusterIP}`,
        );
  },
};

/** A name to resolve from a pod, and the Service it must (or, `absent`, must not) resolve to. */
export interface DnsQuery {
  s: LabState['services'][number];
  from: string;
  name: string;
  absent?: boolean;
}

/** Judges lookups (pure): each answer against what its Service must give, or must not. */
export function wrongAnswers(queries: DnsQuery[], answers: { code: number; answer: string }[]): string[] {
  const wrong: string[] = [];
  queries.forEach((q, i) => {
    const a = answers[i]!;
    const got =
      a.code === 0
        ? [
            ...new Set(
              a.answer
                .trim()
                .split('\n')
                .map((l) => l.split(/\s+/)[0]),
            ),
          ]
        : [];
    if (q.absent) {
      if (a.code === 0)
        wrong.push(
          `${q.from}: "${q.name}" resolved to ${got.join(', ')}, but it must not outside namespace ${q.s.namespace}`,
        );
    } else {
      const want = wantedAnswers(q.s);
      if (a.code !== 0) wrong.push(`${q.from}: "${q.name}" did not resolve (getent exit ${a.code})`);
      else if (!want.every((w) => got.includes(w)))
        wrong.push(`${q.from}: "${q.name}" resolved to ${got.join(', ')}, expected ${want.join(', ')}`);
    }
  });
  return wrong;
}

/**
 * Resolves each query with the pod's own resolver and judges the answers; with no query the check is
 * skipped for `nothingToAsk` (never passed: a check that asked nothing proved nothing).
 */
async function resolveAndJudge(
  ctx: CheckContext,
  expected: string,
  queries: DnsQuery[],
  nothingToAsk: string,
): Promise<CheckOutcome> {
  const note = deniedNote(ctx.state);
  if (queries.length === 0) return skip(expected, `${nothingToAsk}${note}`);
  const answers = await ctx.probes.resolve(queries.map((q) => ({ from: q.from, name: q.name })));
  const wrong = wrongAnswers(queries, answers);
  return wrong.length
    ? fail(
        expected,
        `${wrong.join('\n')}${note}`,
        [],
        `see what the resolver tries: lab dns NAME --from ${queries[0]!.from}`,
      )
    : pass(expected, `${count(queries.length, 'lookup')} answered as expected${note}`);
}

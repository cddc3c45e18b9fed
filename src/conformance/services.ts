import { dnsService } from '../plan/services.js';
import type { LabState } from '../state/observe.js';
import { count } from '../text.js';
import {
  type Check,
  fail,
  key,
  noting,
  type PodState,
  pass,
  policyDenies,
  running,
  skip,
  uncertain,
} from './check.js';
import { type HttpResult, parseEcho } from './probes.js';

/** Connections per endpoint that pod-to-service makes to each Service, and again if one was missed. */
const firstRound = 8;
const secondRound = 16;

/** Services that kube-proxy programs and that have endpoints; kube-dns is checked by the DNS checks. */
export function proxied(state: LabState) {
  return state.services.filter(
    (s) =>
      s.type !== 'ExternalName' &&
      s.clusterIP !== 'None' &&
      s.clusterIP !== '' &&
      s.namespace !== dnsService.namespace,
  );
}

/** One connection pod-to-service makes: to a Service's ClusterIP, from a client pod. */
export interface ServiceProbe {
  svc: string;
  from: PodState;
  url: string;
  /** The endpoints (pod names) that the connections must reach between them. */
  want: string[];
}

/** The probes of each Service grouped, with their results, in the order the Services came. */
function bySvc(probes: ServiceProbe[], results: HttpResult[]) {
  const all = probes.map((p, i) => ({ p, r: results[i]! }));
  return [...new Set(probes.map((p) => p.svc))].map((svc) => all.filter(({ p }) => p.svc === svc));
}

/** The Services whose probes did not reach every endpoint (pure): they get a second round. */
export function unreachedServices(probes: ServiceProbe[], results: HttpResult[]): string[] {
  return bySvc(probes, results)
    .filter((mine) => {
      const reached = new Set(mine.map(({ r }) => parseEcho(r.body)?.pod));
      return mine[0]!.p.want.some((w) => !reached.has(w));
    })
    .map((mine) => mine[0]!.p.svc);
}

/**
 * Judges pod-to-service (pure): per Service, connections that failed, endpoints never reached, and
 * endpoints that saw another source than the client pod's IP (SNAT); with one line of evidence each.
 */
export function judgeServices(
  probes: ServiceProbe[],
  results: HttpResult[],
): { problems: string[]; evidence: string[]; doubts: string[] } {
  const problems: string[] = [];
  const evidence: string[] = [];
  const doubts: string[] = [];
  for (const mine of bySvc(probes, results)) {
    const { p } = mine[0]!;
    const svc = p.svc;
    const failed = mine.filter(({ r }) => r.code !== 0 && !r.uncertain);
    for (const { r } of mine) if (r.uncertain) doubts.push(`${svc}: ${r.url}: ${r.uncertain}`);
    const echoes = mine.map(({ r }) => parseEcho(r.body)).filter((e) => e !== undefined);
    const reached = new Set(echoes.map((e) => e.pod));
    const snat = echoes.filter((e) => e.peer !== p.from.ip);
    if (failed.length)
      problems.push(
        `${svc}: ${failed.length} of ${mine.length} connections from ${key(p.from)} to ${p.url} failed: ${failed[0]!.r.error.trim()}`,
      );
    if (echoes.length && p.want.some((w) => !reached.has(w))) {
      problems.push(
        `${svc}: reached ${[...reached].sort().join(', ') || 'no endpoint'}; never ${p.want.filter((w) => !reached.has(w)).join(', ')}`,
      );
    }
    if (snat.length)
      problems.push(
        `${svc}: endpoints saw ${[...new Set(snat.map((e) => e.peer))].join(', ')}, not the client's ${p.from.ip}`,
      );
    evidence.push(
      `${svc} from ${key(p.from)}: ${mine.length} connections, ${echoes.length ? `reached ${[...reached].sort().join(', ')}` : `${mine.length - failed.length} succeeded (not echo servers)`}`,
    );
  }
  return { problems, evidence, doubts };
}

export const podToService: Check = {
  id: 'pod-to-service',
  rule: 'a ClusterIP sends connections to every endpoint of its Service, without SNAT',
  async run(ctx) {
    const expected =
      'repeated connections to each ClusterIP reach every endpoint, which sees the client pod IP';
    const probes: ServiceProbe[] = [];
    let left = 0;
    for (const s of proxied(ctx.state)) {
      const port = s.ports.find((p) => p.protocol === 'TCP' && p.endpoints.length > 0);
      if (!port) continue;
      const endpoints = new Set(port.endpoints.map((e) => e.pod));
      // A client the lab's NetworkPolicies let reach every endpoint (after the DNAT: its IP and target port).
      const allowed = (p: PodState) =>
        !port.endpoints.some((e) => policyDenies(ctx.state, key(p), e.ip, e.port, 'TCP'));
      const candidates = running(ctx.state).filter(
        (p) => !endpoints.has(key(p)) && p.namespace !== dnsService.namespace,
      );
      const client =
        candidates.find((p) => p.namespace === s.namespace && allowed(p)) ?? candidates.find(allowed);
      if (!client) {
        if (candidates.length) left++;
        continue;
      }
      for (let i = 0; i < port.endpoints.length * firstRound; i++) {
        probes.push({
          svc: s.key,
          from: client,
          // Distinct requests (?try=i): each is a new connection, and probes asked twice are asked once.
          url: `http://${s.clusterIP}:${port.port}/?try=${i}`,
          want: port.endpoints.map((e) => e.hostname),
        });
      }
    }
    if (probes.length === 0)
      return skip(
        expected,
        left
          ? `the lab's NetworkPolicies let no client pod reach every endpoint of ${count(left, 'Service')}`
          : 'no TCP Service with endpoints and a client pod',
      );
    const results = await ctx.probes.http(probes.map((p) => ({ from: key(p.from), url: p.url })));
    // kube-proxy picks endpoints at random: with 8 connections per endpoint, a Service of 9 endpoints
    // misses one about once in 300 runs. A Service that missed one gets a second round, 16 per endpoint,
    // before it is judged (a healthy one then misses one less than once in 10^9 runs; a broken one stays unreached).
    const unreached = unreachedServices(probes, results);
    const again = unreached.flatMap((svc) => {
      const first = probes.filter((p) => p.svc === svc);
      const base = first[0]!;
      return Array.from({ length: base.want.length * secondRound }, (_, i) => ({
        ...base,
        url: base.url.replace(/\?try=\d+$/, `?try=${first.length + i}`),
      }));
    });
    if (again.length) {
      results.push(...(await ctx.probes.http(again.map((p) => ({ from: key(p.from), url: p.url })))));
      probes.push(...again);
    }
    const { problems, evidence, doubts } = judgeServices(probes, results);
    if (problems.length === 0 && doubts.length === 0)
      return noting(pass(expected, evidence.join('\n'), evidence), left);
    if (problems.length === 0) return noting(uncertain(expected, doubts.join('\n'), evidence), left);
    const node = probes[0]!.from.node;
    evidence.push(
      `kube-proxy rules on node ${node} (iptables -t nat -S):\n${(
        await ctx.probes.inNode(node, ['iptables-save', '-t', 'nat'])
      )
        .split('\n')
        .filter((l) => /KUBE-(SVC|SEP|SERVICES)/.test(l) && !l.startsWith(':'))
        .slice(0, 30)
        .join('\n')}`,
    );
    return fail(
      expected,
      [...problems, ...doubts.map((d) => `could not be decided: ${d}`)].join('\n'),
      evidence,
      'compare the KUBE-SERVICES / KUBE-SVC-* / KUBE-SEP-* rules with the Service: its ClusterIP, port, endpoints and target ports',
    );
  },
};

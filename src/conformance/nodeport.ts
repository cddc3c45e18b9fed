import type { LabState } from '../state/observe.js';
import { type Check, type CheckContext, fail, isolatedService, noting, pass, skip } from './check.js';
import { type HttpResult, parseEcho, patience } from './probes.js';
import { proxied } from './services.js';

/** Every NodePort with endpoints on every node IP (pure): what nodeport-external probes. */
export function nodePortTargets(state: LabState): { svc: string; node: string; url: string }[] {
  return proxied(state).flatMap((s) =>
    s.ports
      .filter((p) => p.nodePort !== undefined && p.protocol === 'TCP' && p.endpoints.length > 0)
      .flatMap((p) =>
        state.nodes.map((n) => ({ svc: s.key, node: n.name, url: `http://${n.ip}:${p.nodePort}/` })),
      ),
  );
}

/**
 * Fetches each URL from an outside client; a miss is asked once more, with time to spare, before it
 * counts (a busy machine can be slow). Results in the order of `targets`.
 */
async function fetchTwice(
  client: CheckContext['outside'],
  targets: { url: string }[],
): Promise<HttpResult[]> {
  const first = await client.http(targets.map((t) => ({ url: t.url })));
  const slowest = Math.max(0, ...first.map((r) => r.ms));
  const missed = first.filter((r) => r.code !== 0).map((r) => ({ url: r.url, timeout: patience(slowest) }));
  const again = missed.length ? await client.http(missed) : [];
  return first.map((r) => (r.code === 0 ? r : (again.find((a) => a.url === r.url) ?? r)));
}

export const nodeportExternal: Check = {
  id: 'nodeport-external',
  rule: "a NodePort answers on every node's IP from outside the cluster (a client on the node network that is not a node)",
  async run(ctx) {
    const expected =
      'each NodePort with endpoints answers on every node IP from outside the cluster, from one of its pods';
    const all = nodePortTargets(ctx.state);
    const targets = all.filter((t) => !isolatedService(ctx.state, t.svc));
    const left = all.length - targets.length;
    if (targets.length === 0)
      return skip(
        expected,
        left
          ? 'every NodePort Service has endpoints NetworkPolicies isolate'
          : 'no NodePort Service with endpoints',
      );
    const endpoints = new Map(proxied(ctx.state).map((s) => [s.key, new Set(s.endpoints.map((e) => e.ip))]));
    const results = await fetchTwice(ctx.outside, targets);
    const failures: string[] = [];
    const peers = new Set<string>();
    for (const [i, t] of targets.entries()) {
      const r = results[i]!;
      const echo = parseEcho(r.body);
      if (r.code !== 0)
        failures.push(`${t.svc} on node ${t.node} (${t.url}): ${r.error || `curl exit ${r.code}`}`);
      else if (echo && !endpoints.get(t.svc)?.has(echo.ip))
        failures.push(
          `${t.svc} on node ${t.node} (${t.url}): answered by ${echo.ip}, which is no endpoint of it`,
        );
      else if (echo) peers.add(echo.peer);
    }
    if (failures.length)
      return fail(
        expected,
        failures.join('\n'),
        [],
        'look for the port in KUBE-NODEPORTS on that node: lab exec NODE -- iptables -t nat -S KUBE-NODEPORTS',
      );
    const seen = peers.size
      ? `; the pods saw the client as ${[...peers].sort().join(', ')} (addresses of the nodes that took the connections: external traffic is SNATed, as with externalTrafficPolicy: Cluster)`
      : '';
    return noting(pass(expected, `${targets.length} of ${targets.length} node ports answered${seen}`), left);
  },
};

/** Every published host port (TCP) and the URL that reaches it on the engine host (pure). */
export function hostPortTargets(state: LabState): { svc: string; where: string; url: string }[] {
  return (state.plan?.published ?? [])
    .filter((p) => p.protocol === 'TCP')
    .map((p) => ({
      svc: p.service,
      where: `${p.hostIP}:${p.hostPort}`,
      url: `http://${p.hostIP === '0.0.0.0' ? '127.0.0.1' : p.hostIP}:${p.hostPort}/`,
    }));
}

export const hostPort: Check = {
  id: 'host-port',
  rule: 'a Service port published with hostPort answers on the engine host at hostIP:hostPort, from a pod of the Service',
  async run(ctx) {
    const expected = 'each published host port answers on the engine host, from one of its Service’s pods';
    const all = hostPortTargets(ctx.state);
    const targets = all.filter((t) => !isolatedService(ctx.state, t.svc));
    const left = all.length - targets.length;
    if (targets.length === 0)
      return skip(
        expected,
        left
          ? 'every published Service has endpoints NetworkPolicies isolate'
          : 'no Service port is published with hostPort (TCP)',
      );
    const endpoints = new Map(ctx.state.services.map((s) => [s.key, new Set(s.endpoints.map((e) => e.ip))]));
    const results = await fetchTwice(ctx.engineHost, targets);
    const failures: string[] = [];
    for (const [i, t] of targets.entries()) {
      const r = results[i]!;
      const echo = parseEcho(r.body);
      if (r.code !== 0) failures.push(`${t.svc} on ${t.where}: ${r.error || `curl exit ${r.code}`}`);
      else if ((endpoints.get(t.svc)?.size ?? 0) === 0)
        failures.push(`${t.svc} on ${t.where}: answered, but the Service has no endpoints`);
      else if (echo && !endpoints.get(t.svc)?.has(echo.ip))
        failures.push(`${t.svc} on ${t.where}: answered by ${echo.ip}, which is no endpoint of it`);
    }
    return failures.length
      ? fail(
          expected,
          failures.join('\n'),
          [],
          `look at the publisher: docker port podlab-${ctx.state.name}_publish, and lab exec ${ctx.state.nodes[0]?.name ?? 'NODE'} -- iptables -t nat -S KUBE-SERVICES`,
        )
      : noting(
          pass(
            expected,
            `${targets.length} of ${targets.length} host ports answered from a pod: ${targets.map((t) => t.where).join(', ')}`,
          ),
          left,
        );
  },
};

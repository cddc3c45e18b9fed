import type { LabState } from '../state/observe.js';
import { type Check, fail, pass, skip } from './check.js';
import { patience } from './probes.js';
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

export const nodeportExternal: Check = {
  id: 'nodeport-external',
  rule: "a NodePort answers on every node's IP from outside the cluster (the lab's host)",
  async run(ctx) {
    const expected = 'each NodePort with endpoints answers on every node IP, from the host';
    const targets = nodePortTargets(ctx.state);
    if (targets.length === 0) return skip(expected, 'no NodePort Service with endpoints');
    // A miss is asked once more, with time to spare, before it counts: a busy machine can be slow.
    const results = await Promise.all(
      targets.map(async (t) => {
        try {
          await ctx.fetchFromHost(t.url, 3000).catch(() => ctx.fetchFromHost(t.url, patience(0) * 1000));
          return undefined;
        } catch (error) {
          return `${t.svc} on node ${t.node} (${t.url}): ${(error as Error).message}`;
        }
      }),
    );
    const failures = results.filter((r): r is string => r !== undefined);
    return failures.length
      ? fail(
          expected,
          failures.join('\n'),
          [],
          'look for the port in KUBE-NODEPORTS on that node: lab exec NODE -- iptables -t nat -S KUBE-NODEPORTS',
        )
      : pass(expected, `${targets.length} of ${targets.length} node ports answered`);
  },
};

import type { NodeState } from '../state/observe.js';
import { count } from '../text.js';
import { type Check, fail, pass } from './check.js';

/** A route a node lacks: to `other`'s pod range via `other`'s node IP. */
export interface MissingRoute {
  node: string;
  other: NodeState;
}

/**
 * The host-gw routes each node lacks (pure): on every node, `<pod range of each other node> via <its
 * node IP>`, judged from each node's `ip -4 route` output.
 */
export function missingRoutes(nodes: NodeState[], routes: Map<string, string>): MissingRoute[] {
  return nodes.flatMap((n) => {
    const lines = (routes.get(n.name) ?? '').split('\n');
    return nodes
      .filter((o) => o.name !== n.name)
      .filter((o) => !lines.some((l) => l.startsWith(`${o.podCIDR} via ${o.ip} `)))
      .map((other) => ({ node: n.name, other }));
  });
}

export const nodeRoutes: Check = {
  id: 'node-routes',
  rule: "ip route on each node lists every other node's pod range via that node's IP",
  async run(ctx) {
    const expected = 'on every node: <pod range of each other node> via <its node IP>';
    const { nodes } = ctx.state;
    const routes = new Map(
      await Promise.all(
        nodes.map(async (n) => [n.name, await ctx.probes.inNode(n.name, ['ip', '-4', 'route'])] as const),
      ),
    );
    const missing = missingRoutes(nodes, routes);
    if (missing.length === 0)
      return pass(expected, `${count(nodes.length, 'node')}: each routes every other node's pod range`);
    const evidence = await Promise.all(
      missing.map(async ({ node, other }) => {
        const probe = other.podCIDR.replace(/0\/\d+$/, '1');
        return `on node ${node}: ip route get ${probe}\n${await ctx.probes.inNode(node, ['ip', 'route', 'get', probe])}`;
      }),
    );
    return fail(
      expected,
      missing
        .map(({ node, other }) => `node ${node} has no route "${other.podCIDR} via ${other.ip}"`)
        .join('\n'),
      evidence,
      'add it back: lab exec NODE -- ip route add <range> via <node IP>',
    );
  },
};

import { rangeAddress } from '../plan/overlay.js';
import type { NodePlan } from '../plan/types.js';
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

/**
 * What each node's VXLAN overlay lacks or has wrong (pure), from each node's output of
 * `overlayScript`: its device (VNI, port, local address, MTU), and for every other node its route,
 * neighbour and FDB entry. Nodes are the plan's.
 */
export function overlayProblems(nodes: NodePlan[], outputs: Map<string, string>): string[] {
  const problems: string[] = [];
  for (const n of nodes) {
    const o = n.overlay;
    if (!o) continue;
    const [routes = '', link = '', neigh = '', fdb = ''] = (outputs.get(n.name) ?? '').split(/^@@$/m);
    if (!/vxlan id/.test(link)) {
      problems.push(`node ${n.name} has no VXLAN device ${o.device}`);
      continue;
    }
    const wants: [RegExp, string][] = [
      [new RegExp(`vxlan id ${o.vni} `), `VNI ${o.vni}`],
      [new RegExp(`dstport ${o.port}\\b`), `port ${o.port}`],
      [new RegExp(`local ${n.ip.replace(/\./g, '\\.')}\\b`), `local ${n.ip}`],
      [new RegExp(`mtu ${o.mtu}\\b`), `MTU ${o.mtu}`],
    ];
    for (const [re, what] of wants)
      if (!re.test(link)) problems.push(`node ${n.name}: ${o.device} has not ${what}`);
    for (const other of nodes) {
      if (other.name === n.name || !other.overlay) continue;
      const net = rangeAddress(other.podCIDR);
      const mac = other.overlay.mac;
      if (!routes.split('\n').some((l) => l.startsWith(`${other.podCIDR} via ${net} dev ${o.device}`)))
        problems.push(
          `node ${n.name} has no route "${other.podCIDR} via ${net} dev ${o.device} onlink" (to node ${other.name})`,
        );
      if (!neigh.split('\n').some((l) => l.startsWith(`${net} lladdr ${mac}`) && /PERMANENT/.test(l)))
        problems.push(
          `node ${n.name} has no permanent neighbour "${net} lladdr ${mac}" (node ${other.name}'s device)`,
        );
      if (!fdb.split('\n').some((l) => l.startsWith(`${mac} dst ${other.ip} `)))
        problems.push(`node ${n.name} has no FDB entry "${mac} dst ${other.ip}" (node ${other.name})`);
    }
  }
  return problems;
}

/** What a node prints for overlayProblems: routes, its device, neighbours and FDB, between `@@` lines. */
export function overlayScript(device: string): string[] {
  return [
    'sh',
    '-c',
    `ip -4 route; echo @@; ip -d link show dev ${device} 2>&1; echo @@; ip neigh show dev ${device} 2>&1; echo @@; bridge fdb show dev ${device} 2>&1`,
  ];
}

export const nodeRoutes: Check = {
  id: 'node-routes',
  rule: "each node routes every other node's pod range: via its node IP (host-gw), or through the VXLAN device with a neighbour and FDB entry per node (vxlan)",
  async run(ctx) {
    const planned = ctx.state.plan?.nodes ?? [];
    const device = planned[0]?.overlay?.device;
    if (device) {
      const expected = `on every node: ${device} (VNI, port, MTU), and per other node a route via ${device}, a permanent neighbour and an FDB entry`;
      const outputs = new Map(
        await Promise.all(
          planned.map(async (n) => [n.name, await ctx.probes.inNode(n.name, overlayScript(device))] as const),
        ),
      );
      const problems = overlayProblems(planned, outputs);
      return problems.length
        ? fail(
            expected,
            problems.join('\n'),
            [...new Set(problems.map((p) => /^node (\S+)/.exec(p)?.[1] ?? ''))]
              .filter(Boolean)
              .slice(0, 2)
              .map((node) => `on node ${node}:\n${outputs.get(node) ?? ''}`),
            `compare with a healthy node: lab exec NODE -- bridge fdb show dev ${device}; ip neigh show dev ${device}`,
          )
        : pass(
            expected,
            `${count(planned.length, 'node')}: each has ${device} and reaches every other node's pod range through it`,
          );
    }
    return hostGw(ctx);
  },
};

async function hostGw(ctx: Parameters<Check['run']>[0]) {
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
}

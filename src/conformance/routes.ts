import { type Check, fail, pass } from './check.js';

export const nodeRoutes: Check = {
  id: 'node-routes',
  rule: "ip route on each node lists every other node's pod range via that node's IP",
  async run(ctx) {
    const expected = 'on every node: <pod range of each other node> via <its node IP>';
    const missing: string[] = [];
    const evidence: string[] = [];
    await Promise.all(
      ctx.state.nodes.map(async (n) => {
        const routes = await ctx.probes.inNode(n.name, ['ip', '-4', 'route']);
        for (const other of ctx.state.nodes.filter((o) => o.name !== n.name)) {
          if (!routes.split('\n').some((l) => l.startsWith(`${other.podCIDR} via ${other.ip} `))) {
            missing.push(`node ${n.name} has no route "${other.podCIDR} via ${other.ip}"`);
            const probe = other.podCIDR.replace(/0\/\d+$/, '1');
            evidence.push(
              `on node ${n.name}: ip route get ${probe}\n${await ctx.probes.inNode(n.name, ['ip', 'route', 'get', probe])}`,
            );
          }
        }
      }),
    );
    return missing.length
      ? fail(
          expected,
          missing.join('\n'),
          evidence,
          'add it back: lab exec NODE -- ip route add <range> via <node IP>',
        )
      : pass(expected, `${ctx.state.nodes.length} nodes each route every other node's pod range`);
  },
};

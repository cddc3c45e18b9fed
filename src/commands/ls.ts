import { ExitCode } from '../errors.js';
import { labOwners, observeLab } from '../state/observe.js';
import type { CommandContext } from './context.js';
import { table } from './status.js';

/** `lab ls`: every lab in the engine with its size, health and who made it. */
export default async function ls(ctx: CommandContext, options: { json?: boolean }): Promise<number> {
  const runtime = ctx.runtime();
  const labs = [];
  for (const [name, owner] of await labOwners(runtime)) {
    const state = await observeLab(runtime, name, { podIPs: false });
    if (state)
      labs.push({
        name,
        owner,
        nodeSubnet: state.nodeSubnet,
        nodes: state.nodes.length,
        pods: state.pods.length,
        healthy: state.problems.length === 0,
      });
  }
  if (options.json) ctx.io.out(JSON.stringify(labs, null, 2));
  else if (labs.length === 0) ctx.io.err('no labs');
  else
    ctx.io.out(
      table(
        ['LAB', 'OWNER', 'NODE SUBNET', 'NODES', 'PODS', 'STATE'],
        labs.map((l) => [
          l.name,
          l.owner || '-',
          l.nodeSubnet,
          String(l.nodes),
          String(l.pods),
          l.healthy ? 'healthy' : 'degraded',
        ]),
      ).join('\n'),
    );
  return ExitCode.ok;
}

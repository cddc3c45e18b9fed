import { configureLines } from '../apply/actions.js';
import { planFor } from '../apply/prepare.js';
import { ExitCode } from '../errors.js';
import { cniConfigPath } from '../plan/names.js';
import type { LabPlan } from '../plan/types.js';
import { type CommandContext, loadFor } from './context.js';

/** A plan as text: what each node gets and where each pod runs. */
export function renderPlan(plan: LabPlan): string {
  const lines = [
    `lab ${plan.name} (topology ${plan.topologyHash}), image ${plan.image}`,
    `network ${plan.network.name} ${plan.network.subnet} gateway ${plan.network.gateway}; pods ${plan.podCIDR}; services ${plan.serviceCIDR}`,
  ];
  for (const node of plan.nodes) {
    lines.push(
      '',
      `node ${node.name}: ${node.ip}, pods ${node.podCIDR} (bridge gateway ${node.podGateway}), container ${node.container.name}`,
    );
    lines.push(`  ${cniConfigPath}: ${JSON.stringify(node.cniConfig)}`);
    lines.push('  ip -batch:', ...configureLines(node).map((r) => `    ${r}`));
    if (node.overlay) lines.push('  bridge -batch:', ...node.overlay.fdb.map((l) => `    ${l}`));
    for (const pod of plan.pods.filter((p) => p.node === node.name)) {
      lines.push(
        `  pod ${pod.key}: ${pod.containers.map((c) => `${c.name.split('.').at(-1)} ${c.image === plan.image ? '' : `${c.image} `}[${c.entrypoint || c.cmd ? [...(c.entrypoint ?? []), ...(c.cmd ?? [])].join(' ') : "the image's own"}]`).join(', ')}`,
      );
    }
  }
  if (plan.publisher)
    lines.push(
      '',
      `publisher ${plan.publisher.container.name}: ${plan.publisher.ip}, ${plan.published.map((p) => `${p.hostIP}:${p.hostPort} → ${p.service}:${p.port} (${p.clusterIP})`).join(', ')}`,
      '  ip -batch:',
      ...plan.publisher.routes.map((r) => `    ${r}`),
    );
  return lines.join('\n');
}

/** `lab plan`: prints the plan without touching Docker (the node subnet is picked against host routes only). */
export default async function plan(
  ctx: CommandContext,
  options: { file?: string; json?: boolean },
): Promise<number> {
  const { topology } = await loadFor(ctx, options.file);
  const result = await planFor(topology, ctx.host);
  ctx.io.out(options.json ? JSON.stringify(result, null, 2) : renderPlan(result));
  return ExitCode.ok;
}

import { notUpJson, statusJson } from '../api/status.js';
import { ExitCode, LabStateError } from '../errors.js';
import { type LabState, observeLab } from '../state/observe.js';
import { type CommandContext, labName } from './context.js';

/** `80/TCP→http node:30080 host:127.0.0.1:8080`: a Service port as status shows it. */
function formatPort(p: LabState['services'][number]['ports'][number]): string {
  return `${p.port}/${p.protocol}→${p.targetPort}${p.nodePort !== undefined ? ` node:${p.nodePort}` : ''}${p.hostPort !== undefined ? ` host:${p.hostIP}:${p.hostPort}` : ''}`;
}

/** A lab as aligned text columns. */
export function renderStatus(state: LabState): string {
  const lines = [
    `lab ${state.name}  node subnet ${state.nodeSubnet || '?'}  ${state.problems.length ? 'DEGRADED' : 'healthy'}`,
  ];
  lines.push(
    '',
    ...(state.nodes.some((n) => n.engine)
      ? table(
          ['NODE', 'ENGINE', 'IP', 'POD CIDR', 'STATE'],
          state.nodes.map((n) => [n.name, n.engine ?? '-', n.ip, n.podCIDR, n.state]),
        )
      : table(
          ['NODE', 'IP', 'POD CIDR', 'STATE'],
          state.nodes.map((n) => [n.name, n.ip, n.podCIDR, n.state]),
        )),
  );
  lines.push(
    '',
    ...table(
      ['POD', 'NODE', 'IP', 'STATE', 'CONTAINERS', 'LABELS'],
      state.pods.map((p) => [
        `${p.namespace}/${p.name}`,
        p.node,
        p.ip || '-',
        p.state,
        p.containerStates
          .map((k) =>
            k.state === 'running'
              ? k.name
              : `${k.name}(${k.exitCode !== undefined ? `exit ${k.exitCode}` : k.state})`,
          )
          .join(','),
        Object.entries(p.labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(',') || '-',
      ]),
    ),
  );
  if (state.services.length) {
    lines.push(
      '',
      ...table(
        ['SERVICE', 'TYPE', 'CLUSTER-IP', 'PORTS', 'ENDPOINTS'],
        state.services.map((s) => [
          `${s.namespace}/${s.name}`,
          s.clusterIP === 'None' ? 'Headless' : s.type,
          s.type === 'ExternalName' ? `→ ${s.externalName}` : s.clusterIP,
          s.ports.map(formatPort).join(',') || '-',
          s.endpoints.map((e) => `${e.ip}${e.ready ? '' : ' (not ready)'}`).join(',') ||
            (s.type === 'ExternalName' ? '-' : 'none'),
        ]),
      ),
    );
  }
  const policies = state.plan?.policy.policies ?? [];
  if (policies.length)
    lines.push(
      '',
      `NetworkPolicies: ${policies.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).join(', ')} (lab policy ls ${state.name})`,
    );
  if (state.dns) {
    lines.push(
      '',
      `DNS: ${state.dns.clusterIP} → pod ${state.dns.pod} ${state.dns.podIP} on ${state.dns.node}${state.dns.ready ? '' : ' (not ready)'}`,
    );
  }
  if (state.problems.length)
    lines.push(
      '',
      'problems:',
      ...state.problems.map((p) => `  - ${p}`),
      '',
      `next: lab up with its file rebuilds it (removing what is left first) · lab down ${state.name} removes it`,
    );
  return lines.join('\n');
}

/** Left-aligned columns separated by two spaces. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [header, ...rows].map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
}

/** `lab status [NAME]`: exit 0 healthy, 1 degraded, 2 no such lab. */
export default async function status(
  ctx: CommandContext,
  name: string | undefined,
  options: { file?: string; json?: boolean },
): Promise<number> {
  const lab = await labName(ctx, { ...options, ...(name ? { name } : {}) });
  const runtime = ctx.runtime();
  const state = await observeLab(runtime, lab);
  if (!state) {
    const error = new LabStateError(`lab ${lab} is not up`, 'start it with lab up, or see lab ls');
    // A script reading --json gets a document in every case; the exit code (2) says the rest.
    if (options.json) ctx.io.out(JSON.stringify(notUpJson(lab, error.message), null, 2));
    throw error;
  }
  ctx.io.out(options.json ? JSON.stringify(statusJson(state), null, 2) : renderStatus(state));
  return state.problems.length ? ExitCode.failed : ExitCode.ok;
}

export { notUpJson, statusJson } from '../api/status.js';

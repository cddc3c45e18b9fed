import type { LabPlan } from '../plan/types.js';

/** What a picture of a lab shows: nodes with their pods, the routes between nodes, Services and what they reach. */
export interface LabGraph {
  name: string;
  nodeSubnet: string;
  nodes: {
    name: string;
    ip: string;
    podCIDR: string;
    engine: string;
    pods: { key: string; ip: string; dns: boolean }[];
  }[];
  /** `from` routes `range` via `to`'s node IP (host-gw). */
  routes: { from: string; to: string; range: string }[];
  services: { key: string; type: string; address: string; ports: string; endpoints: string[] }[];
}

/**
 * The picture of a lab (pure): from its plan, with the addresses the pods really have when it is
 * running (`podIPs`), and the engine each node runs on.
 */
export function labGraph(plan: LabPlan, podIPs: Map<string, string> = new Map(), engine = 'local'): LabGraph {
  return {
    name: plan.name,
    nodeSubnet: plan.nodeSubnet,
    nodes: plan.nodes.map((n) => ({
      name: n.name,
      ip: n.ip,
      podCIDR: n.podCIDR,
      engine,
      pods: plan.pods
        .filter((p) => p.node === n.name)
        .map((p) => ({ key: p.key, ip: podIPs.get(p.key) ?? p.ip, dns: p.key === plan.dns.pod })),
    })),
    routes: plan.nodes.flatMap((n) =>
      plan.nodes
        .filter((o) => o.name !== n.name)
        .map((o) => ({ from: n.name, to: o.name, range: o.podCIDR })),
    ),
    services: plan.services.map((s) => ({
      key: s.key,
      type: s.clusterIP === 'None' ? 'Headless' : s.type,
      address: s.type === 'ExternalName' ? `→ ${s.externalName}` : s.clusterIP,
      ports: s.ports
        .map((p) => `${p.port}/${p.protocol}${p.nodePort !== undefined ? ` node:${p.nodePort}` : ''}`)
        .join(', '),
      endpoints: s.endpoints.map((e) => e.pod),
    })),
  };
}

const id = (kind: string, name: string) => `${kind}_${name.replace(/[^A-Za-z0-9]/g, '_')}`;

/** Mermaid flowchart: a subgraph per node holding its pods, route edges between nodes, Services to endpoints. */
export function toMermaid(g: LabGraph): string {
  const lines = ['flowchart LR'];
  for (const n of g.nodes) {
    lines.push(`  subgraph ${id('node', n.name)}["node ${n.name} · ${n.ip} · pods ${n.podCIDR}"]`);
    for (const p of n.pods)
      lines.push(`    ${id('pod', p.key)}["${p.dns ? 'DNS ' : ''}pod ${p.key}<br/>${p.ip}"]`);
    lines.push('  end');
  }
  for (const r of g.routes) lines.push(`  ${id('node', r.from)} -. "${r.range}" .-> ${id('node', r.to)}`);
  for (const s of g.services) {
    lines.push(
      `  ${id('svc', s.key)}{{"${s.type} ${s.key}<br/>${s.address}${s.ports ? ` · ${s.ports}` : ''}"}}`,
    );
    for (const e of s.endpoints) lines.push(`  ${id('svc', s.key)} --> ${id('pod', e)}`);
  }
  return lines.join('\n');
}

const dotString = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** Graphviz DOT: a cluster per node holding its pods, dashed route edges, Services to endpoints. */
export function toDot(g: LabGraph): string {
  const lines = [
    `digraph ${dotString(`lab ${g.name}`)} {`,
    '  rankdir=LR; compound=true; fontname="Helvetica"; node [fontname="Helvetica", fontsize=10]; edge [fontname="Helvetica", fontsize=9];',
    `  label=${dotString(`lab ${g.name} · node network ${g.nodeSubnet}`)};`,
  ];
  for (const n of g.nodes) {
    lines.push(
      `  subgraph ${dotString(`cluster_${n.name}`)} {`,
      `    label=${dotString(`node ${n.name}\n${n.ip} · pods ${n.podCIDR} · engine ${n.engine}`)}; style=rounded;`,
      `    ${dotString(id('node', n.name))} [label=${dotString(`${n.name} ${n.ip}`)}, shape=box, style=filled, fillcolor="#e8eef7"];`,
    );
    for (const p of n.pods)
      lines.push(
        `    ${dotString(id('pod', p.key))} [label=${dotString(`${p.dns ? 'DNS ' : ''}pod ${p.key}\n${p.ip}`)}, shape=ellipse${p.dns ? ', style=filled, fillcolor="#fff3d6"' : ''}];`,
      );
    lines.push('  }');
  }
  for (const r of g.routes)
    lines.push(
      `  ${dotString(id('node', r.from))} -> ${dotString(id('node', r.to))} [label=${dotString(r.range)}, style=dashed, color="#7a8ca8"];`,
    );
  for (const s of g.services) {
    lines.push(
      `  ${dotString(id('svc', s.key))} [label=${dotString(`${s.type} ${s.key}\n${s.address}${s.ports ? `\n${s.ports}` : ''}`)}, shape=hexagon, style=filled, fillcolor="#e6f4ea"];`,
    );
    for (const e of s.endpoints)
      lines.push(`  ${dotString(id('svc', s.key))} -> ${dotString(id('pod', e))};`);
  }
  lines.push('}');
  return lines.join('\n');
}

/** SVG of the DOT picture, rendered in-process by Graphviz compiled to WebAssembly (no system binary). */
export async function toSvg(g: LabGraph): Promise<string> {
  const { instance } = await import('@viz-js/viz');
  return (await instance()).renderString(toDot(g), { format: 'svg' });
}

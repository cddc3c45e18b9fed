import { readFileSync } from 'node:fs';
import test from 'ava';
import { XMLParser } from 'fast-xml-parser';
import { parseTopology } from '../../src/config/load.js';
import { labGraph, toDot, toMermaid, toSvg } from '../../src/graph/graph.js';
import { planLab } from '../../src/plan/plan.js';

const topology = parseTopology(readFileSync('lab.example.yaml', 'utf8'), 'lab.example.yaml').topology;
const plan = planLab(topology, {
  nodeSubnet: '172.31.9.0/24',
  nodeImage: 'podlab-node:test',
  cniTemplate: {},
});
const graph = labGraph(plan, new Map([['bar/web-0', '10.244.0.99']]));
const names = [
  ...plan.nodes.map((n) => n.name),
  ...plan.pods.map((p) => p.key),
  ...plan.services.map((s) => s.key),
];

test('the picture holds every node with its pods, a route per node pair, every Service and its endpoints', (t) => {
  t.deepEqual(
    graph.nodes.map(
      (n) => `${n.name} ${n.ip} ${n.podCIDR}: ${n.pods.map((p) => `${p.key}@${p.ip}`).join(' ')}`,
    ),
    [
      'control-plane 172.31.9.2 10.244.0.0/24: bar/web-0@10.244.0.99 kube-system/kube-dns-0@10.244.0.3',
      'worker-1 172.31.9.3 10.244.1.0/24: bar/web-1@10.244.1.2 quux/client@10.244.1.3',
      'worker-2 172.31.9.4 10.244.2.0/24: bar/client@10.244.2.2 bar/duo@10.244.2.3',
    ],
  );
  t.is(graph.routes.length, 6);
  t.deepEqual(graph.services.find((s) => s.key === 'bar/foo')?.endpoints, ['bar/web-0', 'bar/web-1']);
  t.true(graph.nodes[0]!.pods[1]!.dns);
});

test('the Mermaid picture parses with the mermaid library’s own parser', async (t) => {
  const { JSDOM } = await import('jsdom');
  const dom = new JSDOM('<!doctype html><html><body></body></html>');
  Object.assign(globalThis, { window: dom.window, document: dom.window.document });
  const { default: mermaid } = await import('mermaid');
  const text = toMermaid(graph);
  t.like(await mermaid.parse(text), { diagramType: 'flowchart-v2' });
  for (const name of names) t.true(text.includes(name), name);
  await t.throwsAsync(
    mermaid.parse(`${text}\n  --> -->`),
    undefined,
    'the parser does refuse a broken picture',
  );
});

test('the SVG picture is rendered in-process, parses, and names every node, pod and Service', async (t) => {
  const svg = await toSvg(graph);
  const doc = new XMLParser({ ignoreAttributes: false }).parse(svg) as { svg?: unknown };
  t.truthy(doc.svg);
  const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)]
    .map((m) => m[1]!.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n))))
    .join('\n');
  for (const name of names) t.true(texts.includes(name), `${name} is named in the SVG`);
  t.true(toDot(graph).startsWith('digraph "lab demo" {'));
});

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import test from 'ava';

// ARCHITECTURE.md's stages depend on each other one way. This reads src/ (text only) and fails on any
// cycle between its folders, naming the files that make each edge of it.

const src = join(process.cwd(), 'src');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** A folder of src/, or for a file directly in src/ the file itself (errors.ts, cli.ts, …). */
const unit = (file: string) => {
  const parts = relative(src, file).split('/');
  return parts.length > 1 ? `${parts[0]}/` : parts[0]!.replace(/\.ts$/, '');
};

function edges(): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  for (const file of files(src)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const target = resolve(dirname(file), m[1]!).replace(/\.js$/, '.ts');
      const a = unit(file);
      const b = unit(target);
      if (a === b) continue;
      const from = out.get(a) ?? new Map<string, string[]>();
      out.set(a, from);
      from.set(b, [...(from.get(b) ?? []), relative(src, file)]);
    }
  }
  return out;
}

function cycles(graph: Map<string, Map<string, string[]>>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (n: string) => {
    state.set(n, 'open');
    path.push(n);
    for (const m of graph.get(n)?.keys() ?? []) {
      if (state.get(m) === 'open') found.push([...path.slice(path.indexOf(m)), m]);
      else if (!state.has(m)) visit(m);
    }
    path.pop();
    state.set(n, 'done');
  };
  for (const n of [...graph.keys()].sort()) if (!state.has(n)) visit(n);
  return found;
}

test('no import cycle between the folders of src/', (t) => {
  const graph = edges();
  t.true(graph.size > 5, 'the import scan found the stages');
  const described = cycles(graph).map((c) =>
    c
      .slice(1)
      .map((to, i) => `${c[i]} → ${to} (${[...new Set(graph.get(c[i]!)!.get(to))].join(', ')})`)
      .join('; '),
  );
  t.deepEqual(described, []);
});

test('the scan sees a cycle when there is one', (t) => {
  const graph = new Map([
    ['config/', new Map([['plan/', ['config/validate.ts']]])],
    ['plan/', new Map([['config/', ['plan/plan.ts']]])],
  ]);
  t.deepEqual(cycles(graph), [['config/', 'plan/', 'config/']]);
});

test('only the runtime imports dockerode', (t) => {
  const importers = files(src)
    .filter((f) => /from ['"]dockerode['"]|import\(['"]dockerode['"]\)/.test(readFileSync(f, 'utf8')))
    .map((f) => relative(src, f));
  t.deepEqual(importers, ['runtime/docker-runtime.ts']);
});

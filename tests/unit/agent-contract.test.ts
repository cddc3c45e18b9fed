import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { agentEnv, agentVerbs } from '../../src/agent/agent.js';
import { nodePaths, podMarker } from '../../src/plan/names.js';

// The contract between podlab and its node agent (templates/node/bin/podlab-agent), read from both
// sides: the verbs, the environment each reads, and the node-side paths that only podlab names.

const script = readFileSync(join(process.cwd(), 'templates', 'node', 'bin', 'podlab-agent'), 'utf8');
const code = script
  .split('\n')
  .filter((l) => !l.trim().startsWith('#'))
  .join('\n');

test('the agent handles exactly the verbs podlab calls', (t) => {
  const cases = [...code.matchAll(/^ {2}([a-z-]+)\)$/gm)].map((m) => m[1]);
  t.deepEqual(cases.sort(), Object.keys(agentVerbs).sort());
});

test('every verb podlab calls in src/ is one of the contract', (t) => {
  const dir = join(process.cwd(), 'src');
  const files = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? files(join(d, e.name)) : e.name.endsWith('.ts') ? [join(d, e.name)] : [],
    );
  const called = new Set(
    files(dir).flatMap((f) =>
      // agent(runtime, node, ['verb', …]), the probes' batched calls: verb(node, 'verb', …),
      // line(node, 'verb', …), and the steps of agentSteps: { verb: 'verb', … }
      [
        ...readFileSync(f, 'utf8').matchAll(
          /\bagent\(\s*[^,]+,\s*[^,]+,\s*\[\s*'([a-z-]+)'|\b(?:verb|line)\(\s*[^,()]+,\s*'([a-z-]+)'|\{ verb: '([a-z-]+)'/g,
        ),
      ].map((m) => (m[1] ?? m[2] ?? m[3])!),
    ),
  );
  t.true(called.size >= 8, `found the calls: ${[...called].join(', ')}`);
  for (const verb of called) t.true(verb in agentVerbs, `podlab calls "${verb}", which the contract lacks`);
});

test('the agent reads only the environment podlab gives it', (t) => {
  const read = new Set([...code.matchAll(/\$\{?(PODLAB_[A-Z_]+)/g)].map((m) => m[1]!));
  const given = new Set([
    'PODLAB_INPUT',
    ...Object.keys(agentEnv),
    ...Object.values(agentVerbs).flat(),
    // set by the agent itself for the echo listeners it starts
    'PODLAB_POD_NAME',
  ]);
  t.deepEqual(
    [...read].filter((v) => !given.has(v)),
    [],
  );
  for (const v of Object.keys(agentEnv)) t.true(read.has(v), `${v} is passed but never read`);
});

test('the node-side paths and the sandbox marker have one source: the agent names none of them', (t) => {
  for (const value of Object.values(nodePaths))
    t.false(code.includes(value), `the agent hard-codes ${value}`);
  // The marker as a word of its own (PODLAB_POD_NAME is another variable).
  t.notRegex(code, new RegExp(`(?<![A-Z_])${podMarker}(?![A-Z_])`), `the agent hard-codes ${podMarker}`);
  t.deepEqual(
    Object.values(agentEnv).sort(),
    [nodePaths.cniBin, nodePaths.cniConfig, nodePaths.probes, nodePaths.ready, podMarker].sort(),
  );
});

import { existsSync } from 'node:fs';
import test from 'ava';
import { limits, parseTopology } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

const base = 'apiVersion: podlab/v1\nname: hostile\nnodes: [{name: a}]\n';

/**
 * Parses and asserts a ConfigError whose message names the limit that stopped the file (so the limit,
 * not a later stage, refused it; how fast that is belongs to the benchmark, not to a unit test).
 */
function rejects(t: import('ava').ExecutionContext, text: string, pattern: RegExp): void {
  const error = t.throws(() => parseTopology(text, 'hostile.yaml'), { instanceOf: ConfigError });
  t.regex(error!.message, pattern);
}

test('an alias bomb is refused quickly', (t) => {
  let bomb = `${base}a0: &a0 [x, x, x, x, x, x, x, x, x]\n`;
  for (let i = 1; i < 10; i++)
    bomb += `a${i}: &a${i} [${Array(9)
      .fill(`*a${i - 1}`)
      .join(', ')}]\n`;
  rejects(t, bomb, /alias/i);
});

test('deep flow nesting is refused before parsing', (t) => {
  rejects(t, `${base}x: ${'['.repeat(200_000)}${']'.repeat(200_000)}\n`, /nesting is 200000 levels deep/);
});

test('deep block nesting is refused', (t) => {
  const deep = Array.from({ length: 200 }, (_, i) => `${' '.repeat(i * 2)}k${i}:`).join('\n');
  rejects(t, deep, /nest|YAML/);
});

test('a file over the size limit is refused', (t) => {
  rejects(t, `${base}# ${'x'.repeat(limits.maxBytes)}\n`, /over \d+ bytes/);
});

test('duplicate keys are refused', (t) => {
  rejects(t, `${base}name: again\n`, /duplicate key/);
});

test('shell metacharacters and newlines in names are refused, and nothing runs', (t) => {
  const sentinel = '/tmp/podlab-hostile-sentinel';
  rejects(
    t,
    `apiVersion: podlab/v1\nname: "x$(touch ${sentinel})"\nnodes: [{name: "a\\nb"}, {name: "\`touch ${sentinel}\`"}]\n`,
    /name: "x\$\(touch .*" is not a valid lab name[\s\S]*nodes\[0\]\.name: "a\\nb" is not a valid node name[\s\S]*nodes\[1\]\.name/,
  );
  t.false(existsSync(sentinel));
});

test('over-long interface and host names are refused with their limits', (t) => {
  rejects(
    t,
    `${base.replace('[{name: a}]', `[{name: ${'n'.repeat(64)}}]`)}cni: {bridge: bridge-name-16ch}\n`,
    /at most 63[\s\S]*at most 15/,
  );
});

test('wrong types are refused with what was found', (t) => {
  rejects(
    t,
    'apiVersion: podlab/v1\nname: 7\nnodes: {}\n',
    /name: must be string, not number 7[\s\S]*nodes: must be array, not a mapping/,
  );
});

test('a document that is not a mapping is refused', (t) => {
  rejects(t, '- just\n- a list\n', /must be object, not a list/);
});

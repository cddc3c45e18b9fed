import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { loadTopology } from '../../src/config/load.js';
import { ConfigError, type ConfigIssue } from '../../src/errors.js';

const dir = join(process.cwd(), 'tests', 'fixtures', 'config');

/** An issue as the fixtures spell it: `path: message (@line:col)`, ` [warning]` for warnings. */
function spell(issue: ConfigIssue, file: string): string {
  const position = issue.position ? ` (@${issue.position.slice(file.length + 1)})` : '';
  return `${issue.path || '(document)'}: ${issue.message}${position}${issue.severity === 'warning' ? ' [warning]' : ''}`;
}

for (const name of readdirSync(join(dir, 'valid'))) {
  test(`valid fixture ${name} loads`, async (t) => {
    const { topology, warnings } = await loadTopology(join(dir, 'valid', name));
    t.is(topology.apiVersion, 'podlab/v1');
    t.deepEqual(warnings, []);
  });
}

for (const name of readdirSync(join(dir, 'invalid'))) {
  test(`invalid fixture ${name} reports exactly its problems, each with its position`, async (t) => {
    const file = join(dir, 'invalid', name);
    const expected = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('# expect: '))
      .map((l) => l.slice('# expect: '.length).trimEnd());
    t.true(expected.length > 0, 'fixture has no expectations');
    const error = await t.throwsAsync(loadTopology(file), { instanceOf: ConfigError });
    t.deepEqual(error!.issues.map((i) => spell(i, file)).sort(), expected.sort());
    t.is(error!.exitCode, 2);
  });
}

test('the shipped example loads without warnings', async (t) => {
  const { topology, warnings } = await loadTopology(join(process.cwd(), 'lab.example.yaml'));
  t.deepEqual(warnings, []);
  t.deepEqual(
    topology.nodes.map((n) => n.name),
    ['control-plane', 'worker-1', 'worker-2'],
  );
  t.deepEqual([...new Set(topology.pods.map((p) => p.namespace))].sort(), ['bar', 'quux']);
  const foo = topology.services.find((s) => s.name === 'foo');
  t.is(foo?.namespace, 'bar');
  t.is(foo?.type, 'NodePort');
  t.true(topology.pods.some((p) => p.containers.length === 2));
});

test('defaults fill every optional field', async (t) => {
  const { topology } = await loadTopology(join(dir, 'valid', 'minimal.yaml'));
  t.deepEqual(topology.cluster, {
    domain: 'cluster.local',
    podCIDR: '10.244.0.0/16',
    nodeMaskSize: 24,
    serviceCIDR: '10.96.0.0/12',
  });
  t.deepEqual(topology.cni, { bridge: 'cni0', backend: 'host-gw' });
  t.deepEqual(topology.dns, { clusterIP: '10.96.0.10', upstream: [] });
  t.deepEqual(topology.pods, []);
});

test('a missing file says so and how to name one', async (t) => {
  const error = await t.throwsAsync(loadTopology('/nonexistent/lab.yaml'), { instanceOf: ConfigError });
  t.regex(error!.message, /cannot read the topology: no such file; pass one with -f FILE/);
});

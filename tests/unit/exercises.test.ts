import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import test from 'ava';
import { XMLParser } from 'fast-xml-parser';
import type { CheckResult } from '../../src/conformance/checks.js';
import { renderJson, renderJunit, renderPretty, renderTap } from '../../src/conformance/report.js';
import { commandLine } from '../../src/exercises/api.js';
import { score } from '../../src/exercises/progress.js';
import { parseResolvConf, searchCandidates } from '../../src/net/resolv.js';

const tag = (pieces: TemplateStringsArray, ...values: unknown[]) => commandLine(pieces, values);

test('interpolated values are quoted by zx: they reach bash as data, never as code', (t) => {
  const sentinel = `/tmp/podlab-quote-sentinel-${process.pid}`;
  const hostile = `x; touch ${sentinel}; $(touch ${sentinel}) \`touch ${sentinel}\``;
  const line = tag`printf '%s' ${hostile}`;
  t.is(execFileSync('bash', ['-c', line], { encoding: 'utf8' }), hostile);
  t.false(existsSync(sentinel));
  t.is(tag`ip route del ${'10.244.2.0/24'}`, 'ip route del 10.244.2.0/24');
  t.is(execFileSync('bash', ['-c', tag`echo ${['a b', 'c']}`], { encoding: 'utf8' }), 'a b c\n');
});

test('the score counts the exercises of this topology only', (t) => {
  const record = { starts: 1, active: false, resets: 0 };
  const progress = {
    version: 2 as const,
    exercises: {
      a: { ...record, hintsShown: 2, attempts: 1, solvedAt: '2026-11-29T10:00:00Z' },
      b: { ...record, hintsShown: 1, attempts: 3, active: true },
      gone: { ...record, hintsShown: 5, attempts: 1, solvedAt: '2026-11-29T10:00:00Z' },
    },
  };
  t.is(score(progress, ['a', 'b', 'c']), '1 of 3 solved (3 hints used)');
});

test('resolv.conf is read as glibc reads it, and names are expanded by ndots', (t) => {
  const conf = parseResolvConf(
    'search a b\n# comment\nnameserver 10.96.0.10\nsearch bar.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5 timeout:1\n',
  );
  t.deepEqual(conf, {
    nameservers: ['10.96.0.10'],
    search: ['bar.svc.cluster.local', 'svc.cluster.local', 'cluster.local'],
    ndots: 5,
  });
  t.deepEqual(searchCandidates('foo', conf).names, [
    'foo.bar.svc.cluster.local.',
    'foo.svc.cluster.local.',
    'foo.cluster.local.',
    'foo.',
  ]);
  t.deepEqual(searchCandidates('a.b.c.d.e', conf).names[0], 'a.b.c.d.e.bar.svc.cluster.local.');
  t.deepEqual(searchCandidates('a.b.c.d.e.f', conf).names[0], 'a.b.c.d.e.f.');
  t.deepEqual(searchCandidates('foo.', conf).names, ['foo.']);
  t.is(parseResolvConf('nameserver 1.1.1.1\n').ndots, 1);
});

const results: CheckResult[] = [
  {
    id: 'node-routes',
    rule: 'routes',
    status: 'passed',
    expected: 'e',
    seen: 's',
    evidence: [],
    durationMs: 12,
  },
  {
    id: 'pod-to-pod-no-nat',
    rule: 'no NAT',
    status: 'failed',
    expected: 'peer sees pod IP',
    seen: 'seen as 172.30.0.3 <&> "quoted"',
    evidence: ['MASQUERADE moved'],
    hint: 'look at POSTROUTING',
    durationMs: 1500,
  },
  {
    id: 'pod-localhost',
    rule: 'localhost',
    status: 'skipped',
    expected: 'e',
    seen: 'no pod has two containers',
    evidence: [],
    durationMs: 1,
  },
];

test('JUnit: one testcase per check, named by id, failure with message and evidence; it parses', (t) => {
  const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(
    renderJunit('demo', results),
  );
  const suite = xml.testsuites.testsuite;
  t.is(suite.name, 'podlab demo');
  t.is(Number(suite.tests), 3);
  t.is(Number(suite.failures), 1);
  t.is(Number(suite.skipped), 1);
  const failed = suite.testcase.find((c: { name: string }) => c.name === 'pod-to-pod-no-nat');
  t.is(failed.time, '1.5');
  t.is(failed.failure.message, 'no NAT: expected peer sees pod IP');
  t.regex(
    failed.failure['#text'],
    /seen as 172\.30\.0\.3 <&> "quoted"[\s\S]*MASQUERADE moved[\s\S]*next: look at POSTROUTING/,
  );
});

test('TAP, JSON and pretty say the same thing', (t) => {
  const tap = renderTap(results).split('\n');
  t.deepEqual(tap.slice(0, 6), [
    'TAP version 13',
    '1..3',
    'ok 1 - node-routes',
    'not ok 2 - pod-to-pod-no-nat',
    '  ---',
    '  status: failed',
  ]);
  t.true(tap.includes('ok 3 - pod-localhost # SKIP no pod has two containers'));
  const json = JSON.parse(renderJson('demo', results));
  t.like(json, { passed: 1, failed: 1, skipped: 1, uncertain: 0 });
  t.deepEqual(Object.keys(json.checks[1]), [
    'id',
    'rule',
    'status',
    'expected',
    'seen',
    'evidence',
    'hint',
    'durationMs',
  ]);
  const pretty = renderPretty('demo', results);
  t.regex(pretty, /✘ pod-to-pod-no-nat[\s\S]*expected: peer sees pod IP[\s\S]*next: look at POSTROUTING/);
  t.regex(pretty, /1 passed, 1 failed, 1 skipped$/);
});

test("probe-http's tab-separated lines parse, empty fields included", async (t) => {
  const { parseHttpLines } = await import('../../src/conformance/probes.js');
  t.deepEqual(
    parseHttpLines(
      'bar/a\thttp://10.244.1.2:7/\t0\t0.012\t{"pod":"b"}\t\n-\thttp://x:7/\t7\t0.001\t\tcurl: (7) refused\n',
    ),
    [
      { from: 'bar/a', url: 'http://10.244.1.2:7/', code: 0, body: '{"pod":"b"}', error: '', ms: 12 },
      { from: '-', url: 'http://x:7/', code: 7, body: '', error: 'curl: (7) refused', ms: 1 },
    ],
  );
});

test('lab dns: the names after the one that resolved are not tried, in the JSON as in the table', async (t) => {
  const { asResolverTries, parseDigBlocks } = await import('../../src/commands/dns.js');
  const sep = '@@podlab-dns-end@@';
  const output = [
    ';; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 1',
    ';; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 2\nfoo.bar.svc.cluster.local. 5 IN A 10.96.0.2',
    ';; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 3\nfoo.bar.cluster.local. 5 IN A 10.9.9.9',
  ].join(`\n${sep}\n`);
  const names = ['foo.bar.bar.svc.cluster.local', 'foo.bar.svc.cluster.local', 'foo.bar.cluster.local'];
  const { attempts, hit } = asResolverTries(parseDigBlocks(names, `${output}\n${sep}\n`));
  t.is(hit, 1);
  t.deepEqual(
    attempts.map((a) => [a.name, a.tried, a.status, a.answers]),
    [
      ['foo.bar.bar.svc.cluster.local', true, 'NXDOMAIN', []],
      ['foo.bar.svc.cluster.local', true, 'NOERROR', ['A 10.96.0.2']],
      ['foo.bar.cluster.local', false, 'not tried', []],
    ],
  );
});

test('an uncertain check: its own mark and count, JUnit error, exit 4 unless another check failed', async (t) => {
  const { verdictCode } = await import('../../src/conformance/report.js');
  const doubt: CheckResult = {
    id: 'pod-to-node-no-nat',
    rule: 'every pod reaches every node',
    status: 'uncertain',
    expected: 'each pod reaches every node',
    seen: '1 of 9 probes could not be decided: the probe listener in node b did not answer on its own loopback either',
    evidence: [],
    hint: 'nothing points at the lab: run lab test again',
    durationMs: 10,
  };
  const passed = results.filter((r) => r.status !== 'failed');
  t.is(verdictCode(passed), 0);
  t.is(verdictCode([...passed, doubt]), 4);
  t.is(verdictCode([...results, doubt]), 1);
  const pretty = renderPretty('demo', [...passed, doubt]);
  t.regex(
    pretty,
    /\? pod-to-node-no-nat[\s\S]*uncertain, and not because of the lab:[\s\S]*did not answer on its own loopback/,
  );
  t.regex(pretty, /1 passed, 0 failed, 1 skipped, 1 uncertain$/);
  t.like(JSON.parse(renderJson('demo', [...passed, doubt], { listeners: 5 })), {
    uncertain: 1,
    timings: { listeners: 5 },
  });
  const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(
    renderJunit('demo', [...passed, doubt]),
  );
  t.is(Number(xml.testsuites.testsuite.errors), 1);
  t.regex(renderTap([doubt]), /not ok 1 - pod-to-node-no-nat\n {2}---\n {2}status: uncertain/);
});

test('github: one ::error annotation per failed check, escaped as GitHub reads it, and a summary table', async (t) => {
  const { githubSummary, renderGithub } = await import('../../src/conformance/report.js');
  const out = renderGithub('demo', results).split('\n');
  const errors = out.filter((l) => l.startsWith('::error'));
  t.is(errors.length, 1);
  t.regex(errors[0]!, /^::error title=podlab demo%3A pod-to-pod-no-nat::no NAT%0A.*seen as 172\.30\.0\.3/);
  const table = githubSummary('demo', results);
  t.regex(table, /^### podlab demo: 1 passed, 1 failed, 1 skipped\n\n\| \| check \| rule \| seen \|/);
  t.regex(table, /\| ❌ \| `pod-to-pod-no-nat` \|/);
});

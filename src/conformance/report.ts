import junitModule, { type Builder } from 'junit-report-builder';
import { ExitCode } from '../errors.js';
import type { CheckResult } from './checks.js';

// The package is CommonJS: at run time its default import is the builder itself, which its typings
// (written for ESM interop) describe as the module's `default` member.
const junit = junitModule as unknown as Builder;

export type ReporterName = 'pretty' | 'json' | 'junit' | 'tap' | 'github';
export const reporters: readonly ReporterName[] = ['pretty', 'json', 'junit', 'tap', 'github'];

/** Counts by status. */
export function tally(results: CheckResult[]): {
  passed: number;
  failed: number;
  skipped: number;
  uncertain: number;
} {
  const n = (status: CheckResult['status']) => results.filter((r) => r.status === status).length;
  return { passed: n('passed'), failed: n('failed'), skipped: n('skipped'), uncertain: n('uncertain') };
}

/** `lab test`'s exit code: 1 when a check failed, else 4 when one could not be decided, else 0. */
export function verdictCode(results: CheckResult[]): number {
  const t = tally(results);
  return t.failed ? ExitCode.failed : t.uncertain ? ExitCode.uncertain : ExitCode.ok;
}

/** How long each part of a run took, in ms: listeners up, each check's probes, confirming, stopping. */
export type RunTimings = Record<string, number>;

const indent = (text: string, by = '    ') =>
  text
    .split('\n')
    .map((l) => `${by}${l}`)
    .join('\n');

/** For a person: one line per check; for a failure, what was expected, what was seen, and where to look. */
export function renderPretty(lab: string, results: CheckResult[], color = false): string {
  const paint = (code: number, s: string) => (color ? `\u001b[${code}m${s}\u001b[0m` : s);
  const mark = {
    passed: paint(32, '✔'),
    failed: paint(31, '✘'),
    skipped: paint(33, '-'),
    uncertain: paint(33, '?'),
  };
  const lines = [`lab ${lab}: conformance checks`];
  for (const r of results) {
    lines.push(`${mark[r.status]} ${r.id.padEnd(24)} ${r.rule} (${r.durationMs} ms)`);
    if (r.status === 'skipped') lines.push(indent(`skipped: ${r.seen}`));
    if (r.status === 'passed' || r.status === 'skipped') continue;
    if (r.status === 'uncertain') lines.push(indent('uncertain, and not because of the lab:'));
    lines.push(indent(`expected: ${r.expected}`), indent(`seen:\n${indent(r.seen, '  ')}`));
    for (const e of r.evidence) lines.push(indent(`evidence:\n${indent(e, '  ')}`));
    if (r.hint) lines.push(indent(`next: ${r.hint}`));
  }
  const t = tally(results);
  lines.push(
    `${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped${t.uncertain ? `, ${t.uncertain} uncertain` : ''}`,
  );
  return lines.join('\n');
}

/** For scripts: `{lab, checks, passed, failed, skipped, uncertain, timings}`. */
export function renderJson(lab: string, results: CheckResult[], timings?: RunTimings): string {
  return JSON.stringify(
    {
      lab,
      checks: results.map(
        ({ id, rule, status, expected, seen, evidence, hint, coverage, truthTable, durationMs }) => ({
          id,
          rule,
          status,
          expected,
          seen,
          evidence,
          ...(hint ? { hint } : {}),
          ...(coverage ? { coverage } : {}),
          ...(truthTable ? { truthTable } : {}),
          durationMs,
        }),
      ),
      ...tally(results),
      ...(timings ? { timings } : {}),
    },
    null,
    2,
  );
}

/** For CI systems: one testcase per check, named by its id; failures carry message and evidence. */
export function renderJunit(lab: string, results: CheckResult[]): string {
  const builder = junit.newBuilder();
  const suite = builder.testSuite().name(`podlab ${lab}`);
  for (const r of results) {
    const tc = suite
      .testCase()
      .className(`podlab.${lab}`)
      .name(r.id)
      .time(r.durationMs / 1000);
    if (r.status === 'failed') {
      tc.failure(`${r.rule}: expected ${r.expected}`, 'CheckFailed');
      tc.stacktrace(
        [
          `seen:\n${r.seen}`,
          ...r.evidence.map((e) => `evidence:\n${e}`),
          ...(r.hint ? [`next: ${r.hint}`] : []),
        ].join('\n\n'),
      );
    } else if (r.status === 'uncertain') {
      tc.error(`${r.rule}: could not be decided, not because of the lab`, 'CheckUncertain');
      tc.stacktrace([`seen:\n${r.seen}`, ...r.evidence.map((e) => `evidence:\n${e}`)].join('\n\n'));
    } else if (r.status === 'skipped') tc.skipped();
    tc.standardOutput(`${r.rule}\nseen: ${r.seen}`);
  }
  return builder.build();
}

/** TAP version 13, with a YAML block for each failure. */
export function renderTap(results: CheckResult[]): string {
  const yamlString = (s: string) => JSON.stringify(s);
  const lines = ['TAP version 13', `1..${results.length}`];
  results.forEach((r, i) => {
    const n = i + 1;
    if (r.status === 'skipped') lines.push(`ok ${n} - ${r.id} # SKIP ${r.seen.split('\n')[0]}`);
    else if (r.status === 'passed') lines.push(`ok ${n} - ${r.id}`);
    else {
      lines.push(
        `not ok ${n} - ${r.id}`,
        '  ---',
        `  status: ${r.status}`,
        `  rule: ${yamlString(r.rule)}`,
        `  expected: ${yamlString(r.expected)}`,
        `  seen: ${yamlString(r.seen)}`,
      );
      if (r.evidence.length) lines.push('  evidence:', ...r.evidence.map((e) => `    - ${yamlString(e)}`));
      if (r.hint) lines.push(`  hint: ${yamlString(r.hint)}`);
      lines.push(`  duration_ms: ${r.durationMs}`, '  ...');
    }
  });
  return lines.join('\n');
}

/** A GitHub Actions workflow command's data: `%`, CR and LF escaped as GitHub reads them. */
function ghEscape(text: string, property = false): string {
  const data = text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  return property ? data.replace(/:/g, '%3A').replace(/,/g, '%2C') : data;
}

/**
 * For GitHub Actions: the pretty report, then one `::error` line per failed check (a `::warning`
 * per uncertain one) with what it saw, which GitHub shows as an annotation of the run.
 */
export function renderGithub(lab: string, results: CheckResult[]): string {
  const annotations = results
    .filter((r) => r.status === 'failed' || r.status === 'uncertain')
    .map(
      (r) =>
        `::${r.status === 'failed' ? 'error' : 'warning'} title=${ghEscape(`podlab ${lab}: ${r.id}`, true)}::${ghEscape(`${r.rule}\n${r.seen}${r.hint ? `\nnext: ${r.hint}` : ''}`)}`,
    );
  return [renderPretty(lab, results), ...annotations].join('\n');
}

/** A Markdown table of the results, for $GITHUB_STEP_SUMMARY. */
export function githubSummary(lab: string, results: CheckResult[]): string {
  const mark = { passed: '✅', failed: '❌', skipped: '➖', uncertain: '❔' };
  const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, '<br>');
  const t = tally(results);
  return [
    `### podlab ${lab}: ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped${t.uncertain ? `, ${t.uncertain} uncertain` : ''}`,
    '',
    '| | check | rule | seen |',
    '| --- | --- | --- | --- |',
    ...results.map(
      (r) =>
        `| ${mark[r.status]} | \`${r.id}\` | ${cell(r.rule)} | ${r.status === 'passed' ? '' : cell(r.seen.split('\n').slice(0, 6).join('\n'))} |`,
    ),
    '',
  ].join('\n');
}

/** Renders results with the named reporter (the JSON one carries the run's timings when given). */
export function render(
  reporter: ReporterName,
  lab: string,
  results: CheckResult[],
  color = false,
  timings?: RunTimings,
): string {
  switch (reporter) {
    case 'json':
      return renderJson(lab, results, timings);
    case 'junit':
      return renderJunit(lab, results);
    case 'tap':
      return renderTap(results);
    case 'github':
      return renderGithub(lab, results);
    default:
      return renderPretty(lab, results, color);
  }
}

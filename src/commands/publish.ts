import { appendFile, writeFile } from 'node:fs/promises';
import type { CheckResult } from '../conformance/checks.js';
import {
  githubSummary,
  type ReporterName,
  type RunTimings,
  render,
  reporters,
} from '../conformance/report.js';
import { UsageError } from '../errors.js';
import type { CommandContext } from './context.js';

/** `--reporter`'s value, checked. */
export function reporterOf(name: string | undefined): ReporterName {
  const reporter = (name ?? 'pretty') as ReporterName;
  if (!reporters.includes(reporter))
    throw new UsageError(`unknown reporter "${name}"`, `reporters are: ${reporters.join(', ')}`);
  return reporter;
}

/**
 * Prints a report the way `--reporter` and `--output` ask: to stdout, or to a file with the pretty
 * report on stdout; with `github`, a Markdown table is also appended to $GITHUB_STEP_SUMMARY (when
 * GitHub Actions sets it).
 */
export async function publish(
  ctx: CommandContext,
  options: { reporter: ReporterName; output?: string | undefined },
  lab: string,
  results: CheckResult[],
  timings?: RunTimings,
): Promise<void> {
  const { reporter, output } = options;
  const report = render(reporter, lab, results, ctx.io.interactive, timings);
  if (output) {
    await writeFile(output, `${report}\n`);
    ctx.io.err(`${reporter} report written to ${output}`);
    if (reporter !== 'pretty') ctx.io.out(render('pretty', lab, results, ctx.io.interactive));
  } else ctx.io.out(report);
  const summary = process.env.GITHUB_STEP_SUMMARY;
  if (reporter === 'github' && summary) await appendFile(summary, githubSummary(lab, results));
}

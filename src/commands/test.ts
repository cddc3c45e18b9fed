import { writeFile } from 'node:fs/promises';
import { conformanceRun, describeTimings } from '../conformance/conformance.js';
import { type ReporterName, render, reporters, verdictCode } from '../conformance/report.js';
import { UsageError } from '../errors.js';
import { type CommandContext, labName } from './context.js';

export interface TestOptions {
  file?: string;
  lab?: string;
  only?: string[];
  reporter?: string;
  output?: string;
}

/**
 * `lab test [NAME]`: exit 0 when every check passed (or was skipped), 1 when one failed, 4 when none
 * failed but one could not be decided (its listener was down, the machine too busy): not the lab's fault.
 */
export default async function test(
  ctx: CommandContext,
  name: string | undefined,
  options: TestOptions,
): Promise<number> {
  const reporter = (options.reporter ?? 'pretty') as ReporterName;
  if (!reporters.includes(reporter))
    throw new UsageError(`unknown reporter "${options.reporter}"`, `reporters are: ${reporters.join(', ')}`);
  if (name && options.lab && name !== options.lab)
    throw new UsageError(`two lab names: ${name} and --lab ${options.lab}`, 'give one of them');
  const named = name ?? options.lab;
  const lab = await labName(ctx, {
    ...(named ? { name: named } : {}),
    ...(options.file ? { file: options.file } : {}),
  });
  const started = ctx.clock.now();
  const run = await conformanceRun(
    { runtime: ctx.runtime(), host: ctx.host, clock: ctx.clock },
    lab,
    options.only,
    ctx.io.err,
  );
  const { results } = run;
  const report = render(reporter, lab, results, ctx.io.interactive, run.timings);
  if (options.output) {
    await writeFile(options.output, `${report}\n`);
    ctx.io.err(`${reporter} report written to ${options.output}`);
    if (reporter !== 'pretty') ctx.io.out(render('pretty', lab, results, ctx.io.interactive));
  } else ctx.io.out(report);
  ctx.io.err(`lab test took ${((ctx.clock.now() - started) / 1000).toFixed(1)} s: ${describeTimings(run)}`);
  return verdictCode(results);
}

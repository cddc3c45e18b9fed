import { conformanceRun, describeTimings } from '../conformance/conformance.js';
import { verdictCode } from '../conformance/report.js';
import { UsageError } from '../errors.js';
import { type CommandContext, labName } from './context.js';
import { publish, reporterOf } from './publish.js';

export interface TestOptions {
  file?: string;
  lab?: string;
  only?: string[];
  exhaustive?: boolean;
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
  const reporter = reporterOf(options.reporter);
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
    // `--only a b` and `--only a,b` both name two checks.
    options.only?.flatMap((id) => id.split(',').filter(Boolean)),
    ctx.io.err,
    options.exhaustive ? { exhaustive: true } : {},
  );
  const { results } = run;
  await publish(ctx, { reporter, output: options.output }, lab, results, run.timings);
  ctx.io.err(`lab test took ${((ctx.clock.now() - started) / 1000).toFixed(1)} s: ${describeTimings(run)}`);
  return verdictCode(results);
}

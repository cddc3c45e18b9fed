import { writeFile } from 'node:fs/promises';
import { ExitCode, LabStateError, UsageError } from '../errors.js';
import { type CheckResult, checks, runChecks } from '../exercises/checks.js';
import { Probes } from '../exercises/probes.js';
import { type ReporterName, render, reporters, tally } from '../exercises/report.js';
import { neighbourWarning } from '../host/doctor.js';
import type { Runtime } from '../runtime/runtime.js';
import { observeLab } from '../state/observe.js';
import { type CommandContext, labName } from './context.js';

export interface TestOptions {
  file?: string;
  lab?: string;
  only?: string[];
  reporter?: string;
  output?: string;
}

/** Fetches a URL from the lab's host with a short timeout; used for NodePorts only (node IPs). */
export async function fetchFromHost(url: string): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.text();
}

/** Runs the conformance checks against a running lab. */
export async function conformance(
  runtime: Runtime,
  lab: string,
  only?: string[],
  warn: (text: string) => void = () => {},
): Promise<CheckResult[]> {
  const unknown = (only ?? []).filter((id) => !checks.some((c) => c.id === id));
  if (unknown.length) {
    throw new UsageError(
      `unknown check ${unknown.join(', ')}`,
      `checks are: ${checks.map((c) => c.id).join(', ')}`,
    );
  }
  const state = await observeLab(runtime, lab);
  if (!state) throw new LabStateError(`lab ${lab} is not up`, 'start it with lab up');
  const crowded = await neighbourWarning(state);
  if (crowded)
    warn(`warning: ${crowded.message}; a check that fails so may be this, not the lab\n  → ${crowded.fix}`);
  const probes = new Probes(runtime, state);
  await probes.serve();
  const selected = only?.length ? checks.filter((c) => only.includes(c.id)) : checks;
  return runChecks({ runtime, state, probes, fetchFromHost }, selected);
}

/** `lab test [NAME]`: exit 0 when every check passed (or was skipped), 1 when one failed. */
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
  const started = performance.now();
  const results = await conformance(ctx.runtime(), lab, options.only, ctx.io.err);
  const report = render(reporter, lab, results, ctx.io.interactive);
  if (options.output) {
    await writeFile(options.output, `${report}\n`);
    ctx.io.err(`${reporter} report written to ${options.output}`);
    if (reporter !== 'pretty') ctx.io.out(render('pretty', lab, results, ctx.io.interactive));
  } else ctx.io.out(report);
  ctx.io.err(`lab test took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return tally(results).failed ? ExitCode.failed : ExitCode.ok;
}

import { writeFile } from 'node:fs/promises';
import { planFor } from '../apply/prepare.js';
import { EngineUnreachableError, ExitCode, LabStateError, UsageError } from '../errors.js';
import { labGraph, toDot, toMermaid, toSvg } from '../graph/graph.js';
import type { LabPlan } from '../plan/types.js';
import { engineAddress } from '../runtime/docker-runtime.js';
import { type LabState, observeLab } from '../state/observe.js';
import { type CommandContext, loadFor } from './context.js';

const formats = ['mermaid', 'dot', 'svg'] as const;
type Format = (typeof formats)[number];

/** The format asked for, else the one the output file's name says, else Mermaid. */
function formatOf(format: string | undefined, output: string | undefined): Format {
  const chosen = format ?? (output?.endsWith('.svg') ? 'svg' : output?.endsWith('.dot') ? 'dot' : 'mermaid');
  if (!(formats as readonly string[]).includes(chosen))
    throw new UsageError(`unknown format "${chosen}"`, `formats are: ${formats.join(', ')}`);
  return chosen as Format;
}

/**
 * `lab graph [NAME]`: the lab as a picture: nodes (IP, pod range, engine) holding their pods (IP), the
 * routes between nodes, Services with arrows to their endpoints, the DNS pod. From the running lab
 * (NAME, or the file's lab when it is up), else from the file's plan (no engine needed).
 */
export default async function graph(
  ctx: CommandContext,
  name: string | undefined,
  options: { file?: string; format?: string; output?: string },
): Promise<number> {
  const format = formatOf(options.format, options.output);
  let plan: LabPlan | undefined;
  let state: LabState | undefined;
  if (name) {
    state = await observeLab(ctx.runtime(), name);
    if (!state) throw new LabStateError(`lab ${name} is not up`, 'draw a file instead: lab graph -f FILE');
    plan = state.plan;
    if (!plan) throw new LabStateError(`lab ${name} has no readable topology`, `lab status ${name} says why`);
  } else {
    const { topology } = await loadFor(ctx, options.file);
    state = await observeLab(ctx.runtime(), topology.name).catch((error: unknown) => {
      // No engine here: the file's plan is still a picture.
      if (error instanceof EngineUnreachableError) return undefined;
      throw error;
    });
    plan = state?.plan ?? (await planFor(topology, ctx.host));
  }
  const g = labGraph(
    plan,
    new Map(state?.pods.filter((p) => p.ip).map((p) => [`${p.namespace}/${p.name}`, p.ip])),
    engineAddress(),
  );
  const text = format === 'svg' ? await toSvg(g) : format === 'dot' ? toDot(g) : toMermaid(g);
  if (options.output) {
    await writeFile(options.output, `${text}\n`);
    ctx.io.err(
      `${format} picture of lab ${plan.name}${state ? '' : ' (from its plan)'} written to ${options.output}`,
    );
  } else ctx.io.out(text);
  return ExitCode.ok;
}

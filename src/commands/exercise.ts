import { cniTemplate } from '../apply/prepare.js';
import { removeLab } from '../apply/remove.js';
import type { CheckResult } from '../conformance/checks.js';
import { conformance } from '../conformance/conformance.js';
import { ExitCode, LabStateError, UsageError } from '../errors.js';
import { ExerciseFailure, type ExerciseLab, exerciseLab } from '../exercises/api.js';
import { type LoadedExercise, loadExercises } from '../exercises/exercise.js';
import { entry, type Progress, readProgress, score, writeProgress } from '../exercises/progress.js';
import type { Runtime } from '../runtime/runtime.js';
import { type LabState, observeLab } from '../state/observe.js';
import { type CommandContext, loadFor } from './context.js';
import { publish } from './publish.js';
import up from './up.js';

interface Options {
  file?: string;
  json?: boolean;
  reporter?: string;
}

/** The topology's exercises, and the running lab when there is one. */
async function session(ctx: CommandContext, options: Options, needLab: boolean) {
  const { topology, file } = await loadFor(ctx, options.file);
  const exercises = await loadExercises(topology.exercises);
  if (exercises.length === 0)
    throw new UsageError(
      `${file} lists no exercises`,
      'add exercise modules under exercises: (see README, "Exercises")',
    );
  const runtime = ctx.runtime();
  const state = needLab ? await observeLab(runtime, topology.name) : undefined;
  if (needLab && !state)
    throw new LabStateError(
      `lab ${topology.name} is not up`,
      `start it with: lab up${options.file ? ` -f ${options.file}` : ''}`,
    );
  return { topology, file, exercises, runtime, state };
}

function find(exercises: LoadedExercise[], id: string | undefined, progress?: Progress): LoadedExercise {
  const wanted = id ?? progress?.current;
  if (!wanted)
    throw new UsageError(
      'which exercise? none is started',
      `give an id: ${exercises.map((e) => e.id).join(', ')}`,
    );
  const exercise = exercises.find((e) => e.id === wanted);
  if (!exercise)
    throw new UsageError(
      `no exercise "${wanted}"`,
      `exercises are: ${exercises.map((e) => e.id).join(', ')}`,
    );
  return exercise;
}

function firstNode(state: LabState) {
  const node = state.nodes.find((n) => n.state === 'running');
  if (!node) throw new LabStateError(`lab ${state.name} has no running node`);
  return node;
}

async function labFor(
  ctx: CommandContext,
  runtime: Runtime,
  state: LabState,
  topology: Parameters<typeof exerciseLab>[0]['topology'],
): Promise<ExerciseLab> {
  return exerciseLab({
    runtime,
    topology,
    state,
    cniTemplate: await cniTemplate(),
    conformance: (ids) =>
      conformance({ runtime, host: ctx.host, clock: ctx.clock }, state.name, ids.length ? ids : undefined),
  });
}

/** `lab exercise list`: every exercise of the topology, with progress when the lab is up. */
export async function list(ctx: CommandContext, options: Options): Promise<number> {
  const { exercises, runtime, topology } = await session(ctx, options, false);
  const state = await observeLab(runtime, topology.name, { podIPs: false }).catch(() => undefined);
  const progress = state ? await readProgress(runtime, firstNode(state)).catch(() => undefined) : undefined;
  const rows = exercises.map((e) => {
    const p = progress?.exercises[e.id];
    return {
      id: e.id,
      title: e.title,
      description: e.description,
      hints: e.hints.length,
      status: p?.passed ? 'solved' : p?.started ? 'started' : 'not started',
      file: e.file,
    };
  });
  if (options.json) ctx.io.out(JSON.stringify(rows, null, 2));
  else {
    for (const r of rows) ctx.io.out(`${r.id.padEnd(22)} ${r.status.padEnd(12)} ${r.title}`);
    if (progress)
      ctx.io.out(
        `\nscore: ${score(
          progress,
          exercises.map((e) => e.id),
        )}`,
      );
  }
  return ExitCode.ok;
}

/** `lab exercise start ID`: breaks the lab the exercise's way and records it. */
export async function start(ctx: CommandContext, id: string, options: Options): Promise<number> {
  const { exercises, runtime, state, topology } = await session(ctx, options, true);
  const exercise = find(exercises, id);
  const lab = await labFor(ctx, runtime, state!, topology);
  await exercise.setup?.(lab);
  const progress = await readProgress(runtime, firstNode(state!));
  const record = entry(progress, exercise.id);
  record.started = new Date().toISOString();
  record.passed = false;
  delete record.passedAt;
  progress.current = exercise.id;
  await writeProgress(runtime, firstNode(state!), progress);
  ctx.io.out(`${exercise.title}\n\n${exercise.description}\n`);
  ctx.io.out(
    `When you think it is fixed: lab exercise check ${exercise.id}   (stuck? lab exercise hint ${exercise.id})`,
  );
  return ExitCode.ok;
}

/** `lab exercise hint ID`: the next hint each time. */
export async function hint(ctx: CommandContext, id: string | undefined, options: Options): Promise<number> {
  const { exercises, runtime, state } = await session(ctx, options, true);
  const progress = await readProgress(runtime, firstNode(state!));
  const exercise = find(exercises, id, progress);
  const record = entry(progress, exercise.id);
  if (record.hintsShown >= exercise.hints.length) {
    ctx.io.out(`no more hints for ${exercise.id} (all ${exercise.hints.length} shown):`);
    for (const [i, h] of exercise.hints.entries()) ctx.io.out(`  ${i + 1}. ${h}`);
    return ExitCode.ok;
  }
  record.hintsShown += 1;
  await writeProgress(runtime, firstNode(state!), progress);
  ctx.io.out(
    `hint ${record.hintsShown} of ${exercise.hints.length}: ${exercise.hints[record.hintsShown - 1]}`,
  );
  return ExitCode.ok;
}

/** `lab exercise check [ID]`: grades the lab as it is now; exit 0 solved, 1 not yet. */
export async function check(ctx: CommandContext, id: string | undefined, options: Options): Promise<number> {
  const { exercises, runtime, state, topology } = await session(ctx, options, true);
  const node = firstNode(state!);
  const progress = await readProgress(runtime, node);
  const exercise = find(exercises, id, progress);
  const record = entry(progress, exercise.id);
  record.attempts += 1;
  let failure: string | undefined;
  try {
    await exercise.check(await labFor(ctx, runtime, state!, topology));
  } catch (error) {
    if (!(error instanceof ExerciseFailure)) throw error;
    failure = error.message;
  }
  if (!failure && !record.passed) {
    record.passed = true;
    record.passedAt = new Date().toISOString();
  }
  await writeProgress(runtime, node, progress);
  const reporter = options.reporter ?? 'pretty';
  if (reporter !== 'pretty' && reporter !== 'github')
    throw new UsageError(`unknown reporter "${reporter}"`, 'lab exercise check takes pretty or github');
  if (reporter === 'github') {
    // As lab test --reporter github: an annotation of the run, and a table in the step summary.
    const result: CheckResult = {
      id: exercise.id,
      rule: exercise.title,
      status: failure ? 'failed' : 'passed',
      expected: 'fixed',
      seen: failure ?? 'fixed',
      evidence: [],
      durationMs: 0,
    };
    await publish(ctx, { reporter: 'github' }, topology.name, [result]);
  } else if (failure) ctx.io.out(`✘ ${exercise.id}: not fixed yet\n${failure.replace(/^/gm, '  ')}`);
  else ctx.io.out(`✔ ${exercise.id}: fixed — ${exercise.title}`);
  ctx.io.out(
    `score: ${score(
      progress,
      exercises.map((e) => e.id),
    )} · attempts at ${exercise.id}: ${record.attempts}`,
  );
  return failure ? ExitCode.failed : ExitCode.ok;
}

/**
 * `lab exercise reset ID`: restores the healthy lab (the exercise's own reset, else the lab is
 * rebuilt from its topology); the progress of the other exercises is kept.
 */
export async function reset(ctx: CommandContext, id: string, options: Options): Promise<number> {
  const { exercises, runtime, state, topology, file } = await session(ctx, options, true);
  const exercise = find(exercises, id);
  const progress = await readProgress(runtime, firstNode(state!));
  if (exercise.reset) await exercise.reset(await labFor(ctx, runtime, state!, topology));
  else {
    ctx.io.err(`rebuilding lab ${topology.name} from ${file}`);
    await removeLab(runtime, topology.name, ctx.clock);
    const quiet = { ...ctx, io: { ...ctx.io, out: () => {} } };
    await up(quiet, { file });
  }
  delete progress.exercises[exercise.id];
  if (progress.current === exercise.id) delete progress.current;
  const after = await observeLab(runtime, topology.name, { podIPs: false });
  if (after) await writeProgress(runtime, firstNode(after), progress);
  ctx.io.out(`lab ${topology.name} is healthy again; ${exercise.id} can be started anew`);
  return ExitCode.ok;
}

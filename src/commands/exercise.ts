import junitModule, { type Builder } from 'junit-report-builder';
import { cniTemplate } from '../apply/prepare.js';
import { removeLab } from '../apply/remove.js';
import type { Topology } from '../config/types.js';
import type { CheckResult } from '../conformance/checks.js';
import { conformance } from '../conformance/conformance.js';
import { ExitCode, LabStateError, RuntimeError, UsageError } from '../errors.js';
import { ExerciseFailure, type ExerciseLab, exerciseLab } from '../exercises/api.js';
import { type LoadedExercise, loadExercises } from '../exercises/exercise.js';
import {
  type ExerciseProgress,
  entry,
  type Progress,
  readProgress,
  score,
  standing,
  writeProgress,
} from '../exercises/progress.js';
import type { Runtime } from '../runtime/runtime.js';
import { type LabState, observeLab } from '../state/observe.js';
import { type CommandContext, labName, loadFor } from './context.js';
import { changePolicies } from './policy.js';
import { publish } from './publish.js';
import { table } from './status.js';
import up from './up.js';

const junit = junitModule as unknown as Builder;

interface Options {
  file?: string;
  lab?: string;
  json?: boolean;
  reporter?: string;
  all?: boolean;
}

/**
 * The exercises and, when it is up, the lab they are about: `--lab NAME` (its exercises come from the
 * topology it recorded, so this works from any folder), else `-f FILE` or ./lab.yaml, else the only
 * lab that is up. Refuses to guess between several.
 */
async function session(ctx: CommandContext, options: Options, needLab: boolean) {
  const runtime = ctx.runtime();
  let topology: Topology;
  let state: LabState | undefined;
  if (options.lab || !options.file) {
    const name = options.lab ?? (await labName(ctx, {}));
    state = await observeLab(runtime, name, { podIPs: false }).catch(() => undefined);
    if (state?.recorded?.ok) topology = state.recorded.topology;
    else if (options.lab)
      throw new LabStateError(`lab ${options.lab} is not up`, 'start it with lab up -f FILE, or see lab ls');
    else topology = (await loadFor(ctx)).topology;
  } else {
    topology = (await loadFor(ctx, options.file)).topology;
    state = await observeLab(runtime, topology.name, { podIPs: false }).catch(() => undefined);
  }
  const exercises = await loadExercises(topology.exercises);
  if (exercises.length === 0)
    throw new UsageError(
      `lab ${topology.name} lists no exercises`,
      'add exercise modules under exercises: (see README, "Exercises")',
    );
  if (needLab && !state)
    throw new LabStateError(
      `lab ${topology.name} is not up`,
      `start it with: lab up${options.file ? ` -f ${options.file}` : ''}`,
    );
  return { topology, exercises, runtime, state };
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

async function labFor(
  ctx: CommandContext,
  runtime: Runtime,
  state: LabState,
  topology: Topology,
): Promise<ExerciseLab> {
  return exerciseLab({
    runtime,
    topology,
    state,
    cniTemplate: await cniTemplate(),
    conformance: (ids) =>
      conformance({ runtime, host: ctx.host, clock: ctx.clock }, state.name, ids.length ? ids : undefined),
    // Quietly: what an exercise changes is for the learner to find.
    changePolicies: async (edit) => {
      const now = await observeLab(runtime, state.name, { podIPs: false });
      if (!now?.recorded?.ok) throw new LabStateError(`lab ${state.name} has no readable topology record`);
      const quiet = { ...ctx, io: { out: () => {}, err: () => {}, interactive: false, quiet: true } };
      await changePolicies(quiet, now.recorded.topology, edit(now.recorded.topology.networkPolicies));
    },
  });
}

/** Runs an exercise's check: undefined when it passes, else what is still wrong. */
async function grade(exercise: LoadedExercise, lab: ExerciseLab): Promise<string | undefined> {
  try {
    await exercise.check(lab);
    return undefined;
  } catch (error) {
    if (!(error instanceof ExerciseFailure)) throw error;
    return error.message;
  }
}

/** One exercise as `list --json` and `report` give it: what a teacher collects. */
function row(e: LoadedExercise, p: ExerciseProgress | undefined) {
  return {
    id: e.id,
    title: e.title,
    status: standing(p),
    started: p?.startedAt ?? null,
    starts: p?.starts ?? 0,
    attempts: p?.attempts ?? 0,
    hintsUsed: p?.hintsShown ?? 0,
    hints: e.hints.length,
    solvedAt: p?.solvedAt ?? null,
    timeToSolveSeconds: p?.timeToSolveMs !== undefined ? Math.round(p.timeToSolveMs / 1000) : null,
    solutionViewedAt: p?.solutionViewedAt ?? null,
    solutionBeforeSolving:
      p?.solutionViewedAt !== undefined && (!p.solvedAt || p.solutionViewedAt < p.solvedAt),
    resets: p?.resets ?? 0,
  };
}

/** `lab exercise list`: every exercise, with progress when the lab is up. */
export async function list(ctx: CommandContext, options: Options): Promise<number> {
  const { exercises, runtime, state } = await session(ctx, options, false);
  const progress = state ? await readProgress(runtime, state).catch(() => undefined) : undefined;
  const rows = exercises.map((e) => ({
    ...row(e, progress?.exercises[e.id]),
    description: e.description,
    file: e.file,
  }));
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

/** `lab exercise report`: per exercise, started, attempts, hints, solved at, time to solve, solution seen. */
export async function report(ctx: CommandContext, options: Options): Promise<number> {
  const { exercises, runtime, state, topology } = await session(ctx, options, true);
  const progress = await readProgress(runtime, state!);
  const rows = exercises.map((e) => row(e, progress.exercises[e.id]));
  const reporter = options.reporter ?? 'pretty';
  if (reporter === 'json')
    ctx.io.out(
      JSON.stringify(
        {
          lab: topology.name,
          score: score(
            progress,
            exercises.map((e) => e.id),
          ),
          exercises: rows,
        },
        null,
        2,
      ),
    );
  else if (reporter === 'junit') {
    const builder = junit.newBuilder();
    const suite = builder.testSuite().name(`podlab ${topology.name} exercises`);
    for (const r of rows) {
      const tc = suite
        .testCase()
        .className(`podlab.${topology.name}.exercises`)
        .name(r.id)
        .time(r.timeToSolveSeconds ?? 0);
      if (r.status === 'not started') tc.skipped();
      else if (r.status === 'started') tc.failure(`${r.title}: not solved yet`, 'NotSolved');
      tc.standardOutput(
        `started ${r.started ?? '-'} (${r.starts}×) · attempts ${r.attempts} · hints ${r.hintsUsed} of ${r.hints} · solved ${r.solvedAt ?? '-'}${r.timeToSolveSeconds !== null ? ` in ${r.timeToSolveSeconds} s` : ''} · solution viewed ${r.solutionViewedAt ?? 'no'}${r.solutionBeforeSolving ? ' (before solving)' : ''}`,
      );
    }
    ctx.io.out(builder.build());
  } else if (reporter === 'pretty') {
    ctx.io.out(
      table(
        ['EXERCISE', 'STATUS', 'ATTEMPTS', 'HINTS', 'SOLVED AT', 'TIME', 'SOLUTION SEEN'],
        rows.map((r) => [
          r.id,
          r.status,
          String(r.attempts),
          `${r.hintsUsed}/${r.hints}`,
          r.solvedAt ?? '-',
          r.timeToSolveSeconds !== null ? `${r.timeToSolveSeconds} s` : '-',
          r.solutionViewedAt ? (r.solutionBeforeSolving ? 'before solving' : 'after') : '-',
        ]),
      ).join('\n'),
    );
    ctx.io.out(
      `\nscore: ${score(
        progress,
        exercises.map((e) => e.id),
      )}`,
    );
  } else
    throw new UsageError(`unknown reporter "${reporter}"`, 'lab exercise report takes pretty, json or junit');
  return ExitCode.ok;
}

/**
 * `lab exercise start ID`: breaks the lab the exercise's way, confirms that the break happened (its
 * check fails right after), and records it. Refused while another started exercise changes the same
 * objects: their resets would undo each other.
 */
export async function start(ctx: CommandContext, id: string, options: Options): Promise<number> {
  const { exercises, runtime, state, topology } = await session(ctx, options, true);
  const exercise = find(exercises, id);
  const lab = await labFor(ctx, runtime, state!, topology);
  const progress = await readProgress(runtime, state!);
  const mine = new Set(exercise.touches?.(lab) ?? []);
  for (const other of exercises) {
    if (other.id === exercise.id || !progress.exercises[other.id]?.active) continue;
    const shared = (other.touches?.(lab) ?? []).filter((o) => mine.has(o));
    if (shared.length)
      throw new UsageError(
        `${other.id} is started and changes ${shared.join(', ')} too`,
        `check it (lab exercise check ${other.id}) or reset it (lab exercise reset ${other.id}) first`,
      );
  }
  await exercise.setup?.(lab);
  const wrong = await grade(exercise, lab);
  if (!wrong) {
    await resetExercise(ctx, exercise, lab, options);
    throw new RuntimeError(
      `exercise ${exercise.id} did not break the lab (its check still passes right after start); nothing was recorded`,
      'look at its setup: the lab may differ from what it expects',
    );
  }
  const record = entry(progress, exercise.id);
  const now = new Date().toISOString();
  Object.assign(record, {
    startedAt: now,
    breakConfirmedAt: now,
    active: true,
    starts: record.starts + 1,
    hintsThisStart: 0,
  });
  progress.current = exercise.id;
  await writeProgress(runtime, state!, progress);
  ctx.io.out(`${exercise.title}\n\n${exercise.description}\n`);
  ctx.io.out(
    `When you think it is fixed: lab exercise check ${exercise.id}   (stuck? lab exercise hint ${exercise.id})`,
  );
  return ExitCode.ok;
}

/** `lab exercise hint [ID] [--all]`: the next hint each time (all with --all); each is recorded. */
export async function hint(ctx: CommandContext, id: string | undefined, options: Options): Promise<number> {
  const { exercises, runtime, state } = await session(ctx, options, true);
  const progress = await readProgress(runtime, state!);
  const exercise = find(exercises, id, progress);
  const record = entry(progress, exercise.id);
  const seen = record.hintsThisStart ?? 0;
  const upTo = options.all ? exercise.hints.length : Math.min(seen + 1, exercise.hints.length);
  if (upTo !== seen || upTo > record.hintsShown) {
    record.hintsThisStart = upTo;
    record.hintsShown = Math.max(record.hintsShown, upTo);
    await writeProgress(runtime, state!, progress);
  }
  const from = options.all ? 0 : upTo - 1;
  for (let i = from; i < upTo; i++)
    ctx.io.out(`hint ${i + 1} of ${exercise.hints.length}: ${exercise.hints[i]}`);
  if (!options.all && upTo === exercise.hints.length)
    ctx.io.err('that was the last hint (lab exercise solution shows the intended fix)');
  return ExitCode.ok;
}

/** `lab exercise solution ID`: the intended fix as lab exec commands; recorded (a report shows it). */
export async function solution(ctx: CommandContext, id: string, options: Options): Promise<number> {
  const { exercises, runtime, state, topology } = await session(ctx, options, true);
  const exercise = find(exercises, id);
  if (!exercise.solution) throw new UsageError(`exercise ${exercise.id} ships no solution`);
  const progress = await readProgress(runtime, state!);
  const record = entry(progress, exercise.id);
  const steps = await exercise.solution(await labFor(ctx, runtime, state!, topology));
  if (!record.solutionViewedAt) {
    record.solutionViewedAt = new Date().toISOString();
    await writeProgress(runtime, state!, progress);
  }
  const quote = (arg: string) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`);
  for (const step of steps) {
    if (!Array.isArray(step)) {
      if (step.file) ctx.io.out(`cat > ${quote(step.file.name)} <<'EOF'\n${step.file.text.trimEnd()}\nEOF`);
      ctx.io.out(`lab ${step.lab.map(quote).join(' ')} --lab ${topology.name}`);
      continue;
    }
    const [target, ...command] = step;
    ctx.io.out(`lab exec --lab ${topology.name} ${target} -- ${command.map(quote).join(' ')}`);
  }
  if (!record.solvedAt) ctx.io.err(`recorded: the solution of ${exercise.id} was shown before it was solved`);
  return ExitCode.ok;
}

/**
 * `lab exercise check [ID]`: grades the lab as it is now: exit 0 fixed, 1 not yet, 2 when the
 * exercise was not started (or was reset since): there is nothing to grade.
 */
export async function check(ctx: CommandContext, id: string | undefined, options: Options): Promise<number> {
  const reporter = options.reporter ?? 'pretty';
  if (reporter !== 'pretty' && reporter !== 'github')
    throw new UsageError(`unknown reporter "${reporter}"`, 'lab exercise check takes pretty or github');
  const { exercises, runtime, state, topology } = await session(ctx, options, true);
  const progress = await readProgress(runtime, state!);
  const exercise = find(exercises, id, progress);
  const record = entry(progress, exercise.id);
  if (!record.active || !record.breakConfirmedAt)
    throw new LabStateError(
      record.solvedAt
        ? `${exercise.id} is not started (solved at ${record.solvedAt}, and reset since): there is nothing to grade`
        : `${exercise.id} was never started in lab ${topology.name}: there is nothing to grade`,
      `start it first: lab exercise start ${exercise.id}`,
    );
  record.attempts += 1;
  const failure = await grade(exercise, await labFor(ctx, runtime, state!, topology));
  if (!failure && !record.solvedAt) {
    record.solvedAt = new Date().toISOString();
    record.timeToSolveMs = Date.parse(record.solvedAt) - Date.parse(record.startedAt ?? record.solvedAt);
  }
  await writeProgress(runtime, state!, progress);
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
  } else if (failure)
    ctx.io.out(`✘ ${exercise.id}: not fixed yet; still wrong:\n${failure.replace(/^/gm, '  ')}`);
  else ctx.io.out(`✔ ${exercise.id}: fixed — ${exercise.title}`);
  ctx.io.out(
    `score: ${score(
      progress,
      exercises.map((e) => e.id),
    )} · attempts at ${exercise.id}: ${record.attempts}`,
  );
  return failure ? ExitCode.failed : ExitCode.ok;
}

/** Undoes one exercise: its own reset, else the planned state of what it touches, else the whole lab. */
async function resetExercise(
  ctx: CommandContext,
  exercise: LoadedExercise,
  lab: ExerciseLab,
  options: Options,
): Promise<'one' | 'all'> {
  if (exercise.reset) {
    await exercise.reset(lab);
    return 'one';
  }
  const touched = exercise.touches?.(lab);
  if (touched?.length) {
    await lab.restore(touched);
    return 'one';
  }
  ctx.io.err(
    `${exercise.id} names no objects it changes: rebuilding lab ${lab.name} (this undoes every exercise)`,
  );
  const file = options.file;
  await removeLab(ctx.runtime(), lab.name, ctx.clock);
  if (!file)
    throw new UsageError(
      `rebuilding lab ${lab.name} needs its file`,
      `lab exercise reset ${exercise.id} -f FILE`,
    );
  await up({ ...ctx, io: { ...ctx.io, out: () => {} } }, { file });
  return 'all';
}

/**
 * `lab exercise reset ID`: undoes what that exercise broke (and what was changed in the same place),
 * and nothing else: other started exercises stay broken. Credit already earned is kept.
 */
export async function reset(ctx: CommandContext, id: string, options: Options): Promise<number> {
  const { exercises, runtime, state, topology } = await session(ctx, options, true);
  const exercise = find(exercises, id);
  const progress = await readProgress(runtime, state!);
  const scope = await resetExercise(ctx, exercise, await labFor(ctx, runtime, state!, topology), options);
  const after = (await observeLab(runtime, topology.name, { podIPs: false })) ?? state!;
  const reset = scope === 'all' ? exercises.map((e) => e.id) : [exercise.id];
  for (const r of reset) {
    const record = entry(progress, r);
    if (record.active) record.resets += 1;
    record.active = false;
  }
  if (progress.current && reset.includes(progress.current)) delete progress.current;
  await writeProgress(runtime, after, progress);
  ctx.io.out(
    scope === 'one'
      ? `${exercise.id} is undone; other started exercises are as they were${progress.exercises[exercise.id]?.solvedAt ? ' (its credit is kept)' : ''}`
      : `lab ${topology.name} was rebuilt; every exercise can be started anew (credit is kept)`,
  );
  return ExitCode.ok;
}

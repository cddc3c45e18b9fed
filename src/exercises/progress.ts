import { agent } from '../agent/agent.js';
import { LabStateError } from '../errors.js';
import { nodePaths } from '../plan/names.js';
import type { Runtime } from '../runtime/runtime.js';
import type { LabState } from '../state/observe.js';
import { sandboxOf } from '../state/targets.js';
import { count } from '../text.js';

/** Where a lab keeps its classroom progress (inside the DNS pod's sandbox, see progressHome). */
export const progressPath = nodePaths.progress;

/** One exercise's record: what a teacher collects. Credit (`solvedAt`) is kept through resets. */
export interface ExerciseProgress {
  /** The last start. */
  startedAt?: string;
  starts: number;
  /** Started, its break confirmed, and not reset since: the only state in which `check` grades. */
  active: boolean;
  /** When the check failed right after start: the break really happened. */
  breakConfirmedAt?: string;
  /** Checks while active. */
  attempts: number;
  /** Hints seen, at most over all starts (what the report counts). */
  hintsShown: number;
  /** Hints revealed since the last start: `hint` shows the next of these. */
  hintsThisStart?: number;
  /** When the intended fix was first shown (before solving, it is visible in the report). */
  solutionViewedAt?: string;
  solvedAt?: string;
  /** From the start that led to the solve to the solve. */
  timeToSolveMs?: number;
  resets: number;
}

export interface Progress {
  version: 2;
  /** The exercise started last. */
  current?: string;
  exercises: Record<string, ExerciseProgress>;
}

export const emptyProgress = (): Progress => ({ version: 2, exercises: {} });

/**
 * The container that holds a lab's progress: the DNS pod's sandbox, which `lab exec` does not reach
 * (it reaches nodes and pod containers), so a student's shell cannot simply edit the grades.
 */
export function progressHome(state: LabState): { name: string; container: string } {
  const pod = state.dns?.pod ?? 'kube-system/kube-dns-0';
  const sandbox = sandboxOf(state.containers, pod);
  if (sandbox?.state !== 'running')
    throw new LabStateError(
      `lab ${state.name} has no running DNS pod, where it keeps exercise progress`,
      `lab status ${state.name}`,
    );
  return { name: `the DNS pod ${pod}`, container: sandbox.name };
}

/** Reads the progress; none yet (or one of an older podlab) is empty progress. */
export async function readProgress(runtime: Runtime, state: LabState): Promise<Progress> {
  const r = await runtime.exec(progressHome(state).container, ['cat', progressPath]);
  if (r.exitCode !== 0) return emptyProgress();
  try {
    const value = JSON.parse(r.stdout) as Partial<Progress>;
    return value.version === 2
      ? { ...emptyProgress(), ...value, exercises: value.exercises ?? {} }
      : emptyProgress();
  } catch {
    return emptyProgress();
  }
}

export async function writeProgress(runtime: Runtime, state: LabState, progress: Progress): Promise<void> {
  await agent(runtime, progressHome(state), ['write-file', progressPath], JSON.stringify(progress, null, 2));
}

/** One exercise's record, created on first use. */
export function entry(progress: Progress, id: string): ExerciseProgress {
  progress.exercises[id] ??= { starts: 0, active: false, attempts: 0, hintsShown: 0, resets: 0 };
  return progress.exercises[id];
}

/** `3 of 6 solved (4 hints used)`, counting only the given exercises. */
export function score(progress: Progress, ids: string[]): string {
  const records = ids.map((id) => progress.exercises[id]).filter((r) => r !== undefined);
  const solved = records.filter((r) => r.solvedAt).length;
  const hints = records.reduce((n, r) => n + r.hintsShown, 0);
  return `${solved} of ${ids.length} solved (${count(hints, 'hint')} used)`;
}

/** Where an exercise stands, in a word. */
export function standing(record: ExerciseProgress | undefined): 'solved' | 'started' | 'not started' {
  return record?.solvedAt ? 'solved' : record?.active ? 'started' : 'not started';
}

import { agent } from '../agent/agent.js';
import { nodePaths } from '../plan/names.js';
import type { Runtime } from '../runtime/runtime.js';
import type { NodeState } from '../state/observe.js';
import { count } from '../text.js';

/** Where a lab keeps its classroom progress: in its first node, so it lives and dies with the lab. */
export const progressPath = nodePaths.progress;

export interface ExerciseProgress {
  started?: string;
  hintsShown: number;
  attempts: number;
  passed: boolean;
  passedAt?: string;
}

export interface Progress {
  /** The exercise started last. */
  current?: string;
  exercises: Record<string, ExerciseProgress>;
}

export const emptyProgress = (): Progress => ({ exercises: {} });

/** Reads the progress file from the node; none yet is empty progress. */
export async function readProgress(runtime: Runtime, node: NodeState): Promise<Progress> {
  const r = await runtime.exec(node.container, ['cat', progressPath]);
  if (r.exitCode !== 0) return emptyProgress();
  try {
    const value = JSON.parse(r.stdout) as Partial<Progress>;
    return { ...value, exercises: value.exercises ?? {} };
  } catch {
    return emptyProgress();
  }
}

export async function writeProgress(runtime: Runtime, node: NodeState, progress: Progress): Promise<void> {
  await agent(runtime, node, ['write-file', progressPath], JSON.stringify(progress, null, 2));
}

/** One exercise's record, created on first use. */
export function entry(progress: Progress, id: string): ExerciseProgress {
  progress.exercises[id] ??= { hintsShown: 0, attempts: 0, passed: false };
  return progress.exercises[id];
}

/** `3 of 6 solved (4 hints used)`, counting only the given exercises. */
export function score(progress: Progress, ids: string[]): string {
  const total = ids.length;
  const records = ids.map((id) => progress.exercises[id]).filter((r) => r !== undefined);
  const solved = records.filter((r) => r.passed).length;
  const hints = records.reduce((n, r) => n + r.hintsShown, 0);
  return `${solved} of ${total} solved (${count(hints, 'hint')} used)`;
}

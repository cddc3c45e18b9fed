import { access } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { UsageError } from '../errors.js';
import type { ExerciseLab } from './api.js';

/** A `lab exec` argument vector: a target (NODE, NS/POD or NS/POD/CONTAINER), then the command. */
export type ExecStep = [target: string, ...command: string[]];

/**
 * A `lab` command of a solution (`lab policy apply FILE`, say), with the file it needs: written
 * first, then `lab ARGS --lab NAME` (`file.name` among the args is that file).
 */
export interface LabStep {
  lab: string[];
  file?: { name: string; text: string };
}

/** One step of an intended fix: a command inside the lab, or a `lab` command. */
export type SolutionStep = ExecStep | LabStep;

/**
 * A classroom exercise: something broken on purpose (`setup`), a way to tell that it is fixed
 * (`check`), hints in the order a learner should get them, and the intended fix.
 */
export interface Exercise {
  /** Stable id used on the command line, e.g. `missing-route`. */
  id: string;
  title: string;
  /** What the learner is told when the exercise starts. */
  description: string;
  hints: string[];
  /** Breaks or prepares the lab. */
  setup?(lab: ExerciseLab): Promise<void>;
  /** Resolves when the lab is fixed; throws (lab.assert) with the reason when it is not. */
  check(lab: ExerciseLab): Promise<void>;
  /**
   * The objects `setup` changes, as `lab.restore` names them (`routes:NODE`, `rules:NODE`, `cni:NODE`,
   * `resolv:NS/POD`): `reset` re-applies their planned state, and nothing else, and two exercises
   * that change the same object are not started at once.
   */
  touches?(lab: ExerciseLab): string[];
  /** Restores what `setup` broke; by default podlab restores what `touches` names (else the whole lab). */
  reset?(lab: ExerciseLab): Promise<void>;
  /** The intended fix as `lab exec` steps, for teachers and for podlab's own tests. */
  solution?(lab: ExerciseLab): SolutionStep[] | Promise<SolutionStep[]>;
}

/** An exercise and the file it came from. */
export interface LoadedExercise extends Exercise {
  file: string;
}

/** Loads an exercise module (JavaScript, or TypeScript compiled on the fly) and checks its shape. */
export async function loadExercise(file: string): Promise<LoadedExercise> {
  try {
    await access(file);
  } catch {
    throw new UsageError(
      `exercise file ${file} does not exist`,
      'fix the path under exercises: (paths are relative to the topology file)',
    );
  }
  let module: Record<string, unknown>;
  if (/\.[cm]?ts$/.test(file)) {
    const { tsImport } = await import('tsx/esm/api');
    module = (await tsImport(pathToFileURL(file).href, import.meta.url)) as Record<string, unknown>;
  } else {
    module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  }
  const value = (module.default ?? module) as Partial<Exercise> & { default?: Partial<Exercise> };
  const exercise = (value.default ?? value) as Partial<Exercise>;
  const problems = [
    typeof exercise.id === 'string' && /^[a-z0-9][a-z0-9-]*$/.test(exercise.id)
      ? ''
      : 'an id (lowercase letters, digits and -)',
    typeof exercise.title === 'string' ? '' : 'a title',
    typeof exercise.description === 'string' ? '' : 'a description',
    Array.isArray(exercise.hints) && exercise.hints.every((h) => typeof h === 'string')
      ? ''
      : 'hints (a list of strings)',
    typeof exercise.check === 'function' ? '' : 'a check function',
  ].filter(Boolean);
  if (problems.length)
    throw new UsageError(
      `exercise ${file} lacks ${problems.join(', ')}`,
      'export default { id, title, description, hints, setup, check }',
    );
  return { ...(exercise as Exercise), file };
}

/** Loads every exercise of a topology; ids must be unique. */
export async function loadExercises(files: string[]): Promise<LoadedExercise[]> {
  const exercises: LoadedExercise[] = [];
  for (const file of files) {
    const e = await loadExercise(file);
    const twin = exercises.find((x) => x.id === e.id);
    if (twin) throw new UsageError(`exercise id ${e.id} is used twice: ${twin.file} and ${file}`);
    exercises.push(e);
  }
  return exercises;
}

import { Listr, ListrLogger, ProcessOutput } from 'listr2';
import { type Clock, systemClock } from '../clock.js';
import { InterruptedError } from '../errors.js';
import { imageOptionsFromEnv } from '../image/node-image.js';
import type { Io } from '../io.js';
import type { LabPlan } from '../plan/types.js';
import type { Runtime } from '../runtime/runtime.js';
import { type Action, type ApplyContext, type PullMode, upActions } from './actions.js';

/** Time each phase took, for the benchmark. */
export type PhaseTimings = Record<string, number>;

/** Options of applyPlan: an abort signal, and a list that collects the steps still running. */
export interface ApplyOptions {
  signal?: AbortSignal;
  /** Each step's promise, so that a rollback can wait for steps a signal interrupted. */
  inflight?: Promise<unknown>[];
  actions?: Action[];
  clock?: Clock;
  /** `lab up --pull`. */
  pull?: PullMode;
}

/**
 * Runs actions as listr2 tasks (a terminal's progress, plain lines in CI, nothing when quiet);
 * returns how long each phase took. An abort stops waiting for the running step at once (its
 * promise goes to `inflight`) and fails with InterruptedError.
 */
export async function applyPlan(
  runtime: Runtime,
  plan: LabPlan,
  io: Io,
  options: ApplyOptions = {},
): Promise<PhaseTimings> {
  const { signal, inflight = [], actions = upActions(), clock = systemClock } = options;
  const ctx: ApplyContext = {
    runtime,
    plan,
    image: imageOptionsFromEnv((line) => io.err(`  ${line}`)),
    sandboxIds: new Map(),
    clock,
    starts: { last: 0, quickest: Number.POSITIVE_INFINITY },
    ...(options.pull ? { pull: options.pull } : {}),
  };
  const aborted = new Promise<never>((_, reject) => {
    signal?.addEventListener('abort', () => reject(new InterruptedError('interrupted')), { once: true });
  });
  aborted.catch(() => {});
  const timings: PhaseTimings = {};
  const tasks = new Listr(
    actions.map((action) => ({
      title: action.title,
      task: async (_: unknown, task: { title: string }) => {
        if (signal?.aborted) throw new InterruptedError('interrupted');
        const started = clock.now();
        // On a terminal, long steps count inside their title (Creating pods 37/212); plain output
        // (CI, a pipe) keeps one line per step.
        const live = !io.quiet && io.interactive && !io.progress;
        const running = action.run({
          ...ctx,
          ...(live
            ? {
                count: (done: number, total: number) => {
                  task.title = `${action.title} (${done}/${total})`;
                },
              }
            : {}),
        });
        inflight.push(running.catch(() => {}));
        await Promise.race([running, aborted]);
        timings[action.phase] = Math.round(clock.now() - started);
      },
    })),
    {
      renderer: io.quiet ? 'silent' : io.interactive && !io.progress ? 'default' : 'simple',
      rendererOptions: {
        logger: new ListrLogger({
          // listr2 asks for a terminal's stream type; a plain writable does for the simple renderer.
          processOutput: new ProcessOutput(
            (io.progress ?? process.stderr) as NodeJS.WriteStream,
            (io.progress ?? process.stderr) as NodeJS.WriteStream,
          ),
        }),
      },
      registerSignalListeners: false,
      exitOnError: true,
      collectErrors: false,
    },
  );
  await tasks.run();
  return timings;
}

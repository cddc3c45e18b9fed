/** Time as podlab reads it; injected so that tests decide how long a wait lasts. */
export interface Clock {
  /** Milliseconds on a monotonic scale (only differences mean anything). */
  now(): number;
  /** Resolves after `ms`; a timer that never keeps the process alive. */
  sleep(ms: number): Promise<void>;
}

/** The process's own clock. */
export const systemClock: Clock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref()),
};

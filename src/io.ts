/** Where a command writes: results to `out` (stdout, for scripts), progress and notes to `err`. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Whether progress may redraw in place (a terminal, not CI). */
  interactive: boolean;
  /** No progress output at all (tests, --json). */
  quiet?: boolean;
  /** Where progress (listr2) goes; standard error when absent. */
  progress?: NodeJS.WritableStream;
}

/** The process's own streams. */
export function processIo(): Io {
  return {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    interactive: Boolean(process.stderr.isTTY) && !process.env.CI,
  };
}

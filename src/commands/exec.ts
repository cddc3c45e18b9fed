import { LabStateError } from '../errors.js';
import type { ContainerInfo, Runtime, TerminalSize, TtyOptions } from '../runtime/runtime.js';
import { labContainersOf, resolveTarget } from '../state/targets.js';
import { type CommandContext, labName } from './context.js';

/** The lab a command means (--lab, -f or the default) and its containers; fails when it is not up. */
export async function labContainers(
  ctx: CommandContext,
  options: { file?: string; lab?: string },
): Promise<{ lab: string; runtime: Runtime; containers: ContainerInfo[] }> {
  const lab = await labName(ctx, {
    ...(options.lab ? { name: options.lab } : {}),
    ...(options.file ? { file: options.file } : {}),
  });
  const runtime = ctx.runtime();
  return { lab, runtime, containers: await labContainersOf(runtime, lab) };
}

/**
 * The local side of `lab exec -t`: the terminal's size and its resizes when stdout is a terminal,
 * and stdin in raw mode while an interactive command runs (keys such as Ctrl-C go to the command).
 */
function localTerminal(interactive: boolean): { tty: TtyOptions; restore(): void } {
  const out = process.stdout;
  const size = (): TerminalSize => ({ columns: out.columns, rows: out.rows });
  const raw = interactive && process.stdin.isTTY;
  if (raw) process.stdin.setRawMode(true);
  return {
    tty: out.isTTY
      ? {
          size: size(),
          onResize(listener) {
            const resized = () => listener(size());
            out.on('resize', resized);
            return () => out.off('resize', resized);
          },
        }
      : {},
    restore: () => {
      if (raw) process.stdin.setRawMode(false);
    },
  };
}

/** `lab exec TARGET -- CMD…`: stdout, stderr and the exit code pass through. */
export default async function exec(
  ctx: CommandContext,
  target: string,
  command: string[],
  options: { file?: string; lab?: string; interactive?: boolean; tty?: boolean },
): Promise<number> {
  const { lab, runtime, containers } = await labContainers(ctx, options);
  const container = resolveTarget(containers, target, lab);
  if (container.state !== 'running')
    throw new LabStateError(
      `${target} is ${container.state}, not running`,
      `lab status ${lab} shows the lab's state`,
    );
  const terminal = options.tty ? localTerminal(options.interactive === true) : undefined;
  try {
    const result = await runtime.exec(container.name, command, {
      sinks: { stdout: process.stdout, stderr: process.stderr },
      ...(options.interactive ? { stdin: process.stdin } : {}),
      ...(terminal ? { tty: terminal.tty } : {}),
    });
    return result.exitCode;
  } finally {
    terminal?.restore();
    // The command has ended: stop reading what the user may still type, so that lab exits now.
    if (options.interactive) process.stdin.destroy();
  }
}

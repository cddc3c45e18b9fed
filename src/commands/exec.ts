import { LabStateError, UsageError } from '../errors.js';
import { Label } from '../labels.js';
import type { ContainerInfo, Runtime, TerminalSize, TtyOptions } from '../runtime/runtime.js';
import { type CommandContext, labName } from './context.js';

/** Finds the container a target names: NODE, NS/POD (its first container) or NS/POD/CONTAINER. */
export function resolveTarget(containers: ContainerInfo[], target: string, lab: string): ContainerInfo {
  const parts = target.split('/');
  const known = () => {
    const nodes = containers.filter((c) => c.labels[Label.role] === 'node').map((c) => c.labels[Label.node]);
    const pods = containers.filter((c) => c.labels[Label.role] === 'sandbox').map((c) => c.labels[Label.pod]);
    return `nodes: ${nodes.sort().join(', ') || 'none'}; pods: ${pods.sort().join(', ') || 'none'}`;
  };
  if (parts.length === 1) {
    const node = containers.find((c) => c.labels[Label.role] === 'node' && c.labels[Label.node] === target);
    if (!node) throw new UsageError(`lab ${lab} has no node "${target}"`, known());
    return node;
  }
  if (parts.length > 3 || parts.some((p) => p === '')) {
    throw new UsageError(`"${target}" is not a target`, 'write NODE, NS/POD or NS/POD/CONTAINER');
  }
  const key = `${parts[0]}/${parts[1]}`;
  const pod = containers.filter((c) => c.labels[Label.role] === 'container' && c.labels[Label.pod] === key);
  if (pod.length === 0) throw new UsageError(`lab ${lab} has no pod ${key}`, known());
  if (parts.length === 2) return pod.sort((a, b) => a.name.localeCompare(b.name))[0]!;
  const container = pod.find((c) => c.labels[Label.container] === parts[2]);
  if (!container) {
    throw new UsageError(
      `pod ${key} has no container "${parts[2]}"`,
      `its containers: ${pod.map((c) => c.labels[Label.container]).join(', ')}`,
    );
  }
  return container;
}

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
  const containers = await runtime.listContainers({ [Label.lab]: lab });
  if (containers.length === 0) throw new LabStateError(`lab ${lab} is not up`, 'start it with lab up');
  return { lab, runtime, containers };
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

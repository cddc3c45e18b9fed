import { ExitCode, UsageError } from '../errors.js';
import { resolveTarget } from '../state/targets.js';
import type { CommandContext } from './context.js';
import { labContainers } from './exec.js';

export interface LogsOptions {
  file?: string;
  lab?: string;
  follow?: boolean;
  tail?: string;
  since?: string;
}

/** `--since`: Unix seconds, an RFC 3339 time, or a duration ago (`90s`, `5m`, `2h`). */
export function sinceSeconds(value: string, now: number): number {
  const ago = /^(\d+)(s|m|h)$/.exec(value);
  if (ago)
    return Math.floor(now / 1000) - Number(ago[1]) * { s: 1, m: 60, h: 3600 }[ago[2] as 's' | 'm' | 'h'];
  if (/^\d+$/.test(value)) return Number(value);
  const at = Date.parse(value);
  if (Number.isNaN(at))
    throw new UsageError(
      `--since ${value}: not a time`,
      'give 90s, 5m, 2h, Unix seconds or an RFC 3339 time',
    );
  return Math.floor(at / 1000);
}

/**
 * `lab logs NS/POD[/CONTAINER]`: a container's output, as `docker logs` gives it (the pod's first
 * container when none is named; also the DNS pod, kube-system/kube-dns-0); `-f` follows until Ctrl-C.
 */
export default async function logs(
  ctx: CommandContext,
  target: string,
  options: LogsOptions,
): Promise<number> {
  if (target.split('/').length < 2)
    throw new UsageError(`"${target}" is not a pod`, 'write NS/POD or NS/POD/CONTAINER');
  const tail = options.tail === undefined ? undefined : Number(options.tail);
  if (tail !== undefined && (!Number.isInteger(tail) || tail < 0))
    throw new UsageError(`--tail ${options.tail}: not a number of lines`);
  const since = options.since === undefined ? undefined : sinceSeconds(options.since, Date.now());
  const { lab, runtime, containers } = await labContainers(ctx, options);
  const container = resolveTarget(containers, target, lab);
  const read = { ...(tail !== undefined ? { tail } : {}), ...(since !== undefined ? { since } : {}) };
  if (!options.follow) {
    process.stdout.write(await runtime.logs(container.id, read));
    return ExitCode.ok;
  }
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  try {
    await runtime.logs(container.id, {
      ...read,
      sinks: { stdout: process.stdout, stderr: process.stderr },
      signal: stop.signal,
    });
  } finally {
    process.off('SIGINT', onSignal);
  }
  return ExitCode.ok;
}

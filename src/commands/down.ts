import { lockWaitMs } from '../api/lab.js';
import { removeLab } from '../apply/remove.js';
import { ExitCode, LabStateError, UsageError } from '../errors.js';
import type { Lock } from '../host/lock.js';
import { labOwners } from '../state/observe.js';
import { count } from '../text.js';
import { type CommandContext, labName } from './context.js';

export interface DownOptions {
  file?: string;
  all?: boolean;
  /** Stop a running `lab up` of the lab (it rolls back) instead of waiting for it. */
  force?: boolean;
  /** Exit 0 when there is nothing to remove (for cleanup steps that run whatever happened before). */
  ignoreNotFound?: boolean;
  /** With --all: remove without asking. */
  yes?: boolean;
  /** More engines to look on (a lab across engines whose records are gone), as unix://, tcp:// or ssh:// addresses. */
  engine?: string[];
}

/**
 * The labs `--all` removes, said first: every lab of the engine, whoever made it. On a terminal it
 * asks; elsewhere it needs --yes (a shared teaching machine holds every student's lab).
 */
async function confirmAll(ctx: CommandContext, yes: boolean): Promise<string[]> {
  const owners = await labOwners(ctx.runtime());
  const me = ctx.host.owner();
  const others = [...owners].filter(([, o]) => o && o !== me);
  if (owners.size === 0) return [];
  ctx.io.err(
    `lab down --all removes ${count(owners.size, 'lab')}: ${[...owners].map(([lab, o]) => `${lab}${o && o !== me ? ` (${o})` : ''}`).join(', ')}`,
  );
  if (yes) return [...owners.keys()];
  if (!ctx.io.interactive || !process.stdin.isTTY)
    throw new UsageError(
      `lab down --all would remove ${count(owners.size, 'lab')}${others.length ? `, ${others.length} of them made by others` : ''}, and no one confirmed it`,
      'add --yes to remove them all, or name one: lab down NAME',
    );
  const { createInterface } = await import('node:readline/promises');
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  const answer = (await prompt.question('remove them all? [y/N] ')).trim().toLowerCase();
  prompt.close();
  if (answer !== 'y' && answer !== 'yes')
    throw new UsageError('nothing removed', 'lab down NAME removes one lab');
  return [...owners.keys()];
}

/**
 * `lab down [NAME | -f FILE | --all]`: removes every labelled object of the lab. It takes the lab's
 * lock first, so it waits for a running `lab up` of that lab to finish (or, with --force, stops it
 * and lets it roll back). Exit 2 when the lab does not exist, unless --ignore-not-found.
 */
export default async function down(
  ctx: CommandContext,
  name: string | undefined,
  options: DownOptions,
): Promise<number> {
  if (options.all && (name || options.file))
    throw new UsageError('--all removes every lab; give it no NAME or -f');
  const runtime = ctx.runtime();
  await runtime.version();
  const labs = options.all
    ? await confirmAll(ctx, options.yes === true)
    : [await labName(ctx, { ...options, ...(name ? { name } : {}) })];
  if (options.engine?.length) {
    if (!runtime.useEngines)
      throw new UsageError('--engine needs the CLI runtime, which reaches several engines');
    for (const lab of labs)
      runtime.useEngines(
        options.engine.map((host, i) => ({ name: `engine-${i + 1}`, host })),
        lab,
      );
  }
  const locks: Lock[] = [];
  try {
    for (const lab of labs) locks.push(await lockFor(ctx, lab, options.force === true));
    const removed = await removeLab(runtime, options.all ? undefined : labs[0], ctx.clock);
    const what = options.all ? 'all labs' : `lab ${labs[0]}`;
    if (removed.containers.length + removed.networks.length === 0) {
      if (options.all || options.ignoreNotFound) {
        ctx.io.err(`${what}: nothing to remove`);
        return ExitCode.ok;
      }
      throw new LabStateError(
        `lab ${labs[0]} is not up: nothing to remove`,
        'lab ls lists the labs; --ignore-not-found makes this exit 0',
      );
    }
    ctx.io.err(
      `${what}: removed ${count(removed.containers.length, 'container')} and ${count(removed.networks.length, 'network')}`,
    );
    return ExitCode.ok;
  } finally {
    for (const lock of locks) await lock.release();
  }
}

/** The lab's lock: held by a running `lab up` of it, which down waits for or (force) stops. */
function lockFor(ctx: CommandContext, lab: string, force: boolean): Promise<Lock> {
  return ctx.host.lock(`lab-${lab}`, {
    waitMs: lockWaitMs,
    interrupt: force,
    onWait: () =>
      ctx.io.err(
        force
          ? `lab up of ${lab} is running; stopping it (--force), it removes what it created`
          : `lab up of ${lab} is running; waiting for it to finish (lab down --force stops it)`,
      ),
  });
}

import { removeLab } from '../apply/remove.js';
import { ExitCode, UsageError } from '../errors.js';
import { count } from '../text.js';
import { type CommandContext, labName } from './context.js';

/** `lab down [NAME | -f FILE | --all]`: removes every labelled object; exit 0 also when there was nothing. */
export default async function down(
  ctx: CommandContext,
  name: string | undefined,
  options: { file?: string; all?: boolean },
): Promise<number> {
  if (options.all && (name || options.file))
    throw new UsageError('--all removes every lab; give it no NAME or -f');
  const runtime = ctx.runtime();
  await runtime.version();
  const lab = options.all ? undefined : await labName(ctx, { ...options, ...(name ? { name } : {}) });
  const removed = await removeLab(runtime, lab);
  const what = lab ? `lab ${lab}` : 'all labs';
  if (removed.containers.length + removed.networks.length === 0) ctx.io.err(`${what}: nothing to remove`);
  else
    ctx.io.err(
      `${what}: removed ${count(removed.containers.length, 'container')} and ${count(removed.networks.length, 'network')}`,
    );
  return ExitCode.ok;
}

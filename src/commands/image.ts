import { ExitCode } from '../errors.js';
import { ensureNodeImage, imageOptionsFromEnv } from '../image/node-image.js';
import type { CommandContext } from './context.js';

/** `lab image [--rebuild]`: builds the node image ahead of time and prints its tag. */
export default async function image(ctx: CommandContext, options: { rebuild?: boolean }): Promise<number> {
  const runtime = ctx.runtime();
  await runtime.version();
  const started = performance.now();
  const ref = await ensureNodeImage(runtime, {
    ...imageOptionsFromEnv((line) => ctx.io.err(line)),
    rebuild: options.rebuild ?? false,
  });
  ctx.io.err(`node image ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  ctx.io.out(ref);
  return ExitCode.ok;
}

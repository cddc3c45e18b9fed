import { ExitCode } from '../errors.js';
import { doctor } from '../host/doctor.js';
import type { CommandContext } from './context.js';

/** `lab doctor`: what breaks labs on this host, each problem with its fix; exit 1 when one fails. */
export default async function run(ctx: CommandContext, options: { json?: boolean }): Promise<number> {
  const findings = await doctor(ctx.runtime(), ctx.host);
  if (options.json) ctx.io.out(JSON.stringify(findings, null, 2));
  else {
    const mark = { ok: '✔', warn: '!', fail: '✘' };
    for (const f of findings) {
      ctx.io.out(`${mark[f.status]} ${f.id.padEnd(17)} ${f.detail}`);
      if (f.fix && f.status !== 'ok') ctx.io.out(`  ${''.padEnd(17)} fix: ${f.fix}`);
    }
  }
  return findings.some((f) => f.status === 'fail') ? ExitCode.failed : ExitCode.ok;
}

import { expandPods } from '../config/allocate.js';
import { loadTopology } from '../config/load.js';
import { ConfigError, ExitCode, formatIssue } from '../errors.js';
import { count } from '../text.js';
import { type CommandContext, topologyFile } from './context.js';

/** `lab validate`: exit 0 valid (warnings allowed), 2 invalid; every problem listed with its position. */
export default async function validate(
  ctx: CommandContext,
  options: { file?: string; json?: boolean },
): Promise<number> {
  const file = await topologyFile(ctx, options.file);
  try {
    const { topology, warnings } = await loadTopology(file);
    if (options.json) ctx.io.out(JSON.stringify({ file, valid: true, issues: warnings }, null, 2));
    else {
      for (const w of warnings) ctx.io.err(`warning: ${formatIssue(w)}`);
      ctx.io.out(
        `${file}: valid: lab ${topology.name}, ${count(topology.nodes.length, 'node')}, ${count(expandPods(topology).length, 'pod')}, ${count(topology.services.length, 'service')}${topology.networkPolicies.length ? `, ${count(topology.networkPolicies.length, 'NetworkPolicy', 'NetworkPolicies')}` : ''}`,
      );
    }
    return ExitCode.ok;
  } catch (error) {
    if (options.json && error instanceof ConfigError) {
      ctx.io.out(JSON.stringify({ file, valid: false, issues: error.issues }, null, 2));
      return ExitCode.invalid;
    }
    throw error;
  }
}

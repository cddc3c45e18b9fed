import { RuntimeError } from '../errors.js';
import type { Runtime } from '../runtime/runtime.js';

/**
 * Runs one podlab-agent verb in a node. The input travels as an environment variable, so topology
 * values are data to the agent and never shell code.
 */
export async function agent(
  runtime: Runtime,
  node: { name: string; container: string },
  args: string[],
  input = '',
): Promise<string> {
  const result = await runtime.exec(node.container, ['podlab-agent', ...args], {
    env: { PODLAB_INPUT: input },
  });
  if (result.exitCode !== 0) {
    throw new RuntimeError(
      `podlab-agent ${args.join(' ')} failed on node ${node.name} (exit ${result.exitCode}): ${(result.stderr || result.stdout).trim()}`,
      `look inside with: lab exec ${node.name} -- sh`,
    );
  }
  return result.stdout;
}

/** One line of `podlab-agent cni ADD` output. */
export interface CniLine {
  pod: string;
  result?: { ips?: { address?: string }[] };
  error?: string;
}

/** One line of `podlab-agent pods` output. */
export interface PodLine {
  pod: string;
  pid: number;
  ip: string;
}

/** Parses the agent's JSON-lines output. */
export function jsonLines<T>(text: string): T[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

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
  env: Record<string, string> = {},
): Promise<string> {
  const result = await runtime.exec(node.container, ['podlab-agent', ...args], {
    env: { ...env, PODLAB_INPUT: input },
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

/** A line of `podlab-agent pods` output: the node's ready marker, or one pod. */
export type PodsLine = { ready: string } | PodLine;

/** One pod of `podlab-agent pods` output. */
export interface PodLine {
  pod: string;
  pid: number;
  ip: string;
}

/** Where each node keeps the topology hash once `up` has finished (podlab-agent's READY). */
export const readyMarkerPath = '/run/podlab/ready';

/** Splits `podlab-agent pods` output into the ready marker and the pods. */
export function parsePods(text: string): { ready: string; pods: PodLine[] } {
  const lines = jsonLines<PodsLine>(text);
  const marker = lines.find((l): l is { ready: string } => 'ready' in l);
  return { ready: marker?.ready ?? '', pods: lines.filter((l): l is PodLine => 'pod' in l) };
}

/** Parses the agent's JSON-lines output. */
export function jsonLines<T>(text: string): T[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

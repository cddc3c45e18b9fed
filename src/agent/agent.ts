import { RuntimeError } from '../errors.js';
import { nodePaths, podMarker } from '../plan/names.js';
import type { Runtime } from '../runtime/runtime.js';

/**
 * What every agent call gets in its environment: the node-side paths and the sandbox marker, from
 * their one source (plan/names.ts). The agent reads them from here and hard-codes none.
 */
export const agentEnv: Readonly<Record<string, string>> = {
  PODLAB_CNI_CONF: nodePaths.cniConfig,
  PODLAB_CNI_BIN: nodePaths.cniBin,
  PODLAB_READY: nodePaths.ready,
  PODLAB_PROBES: nodePaths.probes,
  PODLAB_MARKER: podMarker,
};

/**
 * The verbs podlab calls and the per-call inputs each one reads from its environment (besides
 * PODLAB_INPUT and agentEnv). The contract test holds the agent's `case` to exactly this list.
 */
export const agentVerbs: Readonly<Record<string, readonly string[]>> = {
  'write-file': [],
  'ip-batch': [],
  cni: [],
  configure: ['PODLAB_CNI', 'PODLAB_ROUTES', 'PODLAB_RULES', 'PODLAB_HOOKS'],
  ready: ['PODLAB_DNS'],
  iptables: ['PODLAB_HOOKS'],
  'wait-dns': [],
  'probe-serve': [],
  'probe-http': [],
  'probe-resolve': [],
  resolv: [],
  pods: [],
};

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
    env: { ...env, ...agentEnv, PODLAB_INPUT: input },
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
export const readyMarkerPath = nodePaths.ready;

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

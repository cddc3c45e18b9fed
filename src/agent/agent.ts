import { PassThrough } from 'node:stream';
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
  configure: ['PODLAB_CNI', 'PODLAB_ROUTES', 'PODLAB_FDB', 'PODLAB_RULES', 'PODLAB_HOOKS'],
  'bridge-batch': [],
  ready: ['PODLAB_DNS'],
  iptables: ['PODLAB_HOOKS'],
  'wait-dns': [],
  'probe-serve': [],
  'probe-http': [],
  'probe-connect': [],
  'probe-ping': [],
  'probe-resolve': [],
  'probe-dig': [],
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

/** A verb that runs in a node for as long as podlab's run lasts; `stop` ends it. */
/**
 * Runs several agent verbs in a node in one exec, in order, stopping at the first that fails: one
 * exec per node per phase where a phase needs more than one verb (a change in place: routes, then
 * rules). Each verb's input travels in its own environment variable; the script holds no data.
 */
export async function agentSteps(
  runtime: Runtime,
  node: { name: string; container: string },
  steps: { verb: string; input: string; args?: string[] }[],
  env: Record<string, string> = {},
): Promise<string> {
  if (steps.length === 1)
    return agent(runtime, node, [steps[0]!.verb, ...(steps[0]!.args ?? [])], steps[0]!.input, env);
  for (const { verb } of steps)
    if (!(verb in agentVerbs)) throw new RuntimeError(`podlab-agent has no verb ${verb}`);
  // Arguments travel as environment variables too: the script holds no value of the plan.
  const script = steps
    .map(
      ({ verb, args = [] }, i) =>
        `PODLAB_INPUT=$PODLAB_STEP_${i} podlab-agent ${verb}${args.map((_, j) => ` "$PODLAB_ARG_${i}_${j}"`).join('')}`,
    )
    .join(' && ');
  const inputs = Object.fromEntries(steps.map(({ input }, i) => [`PODLAB_STEP_${i}`, input]));
  const args = Object.fromEntries(
    steps.flatMap(({ args: list = [] }, i) => list.map((a, j) => [`PODLAB_ARG_${i}_${j}`, a])),
  );
  const result = await runtime.exec(node.container, ['sh', '-c', script], {
    env: { ...env, ...agentEnv, ...inputs, ...args },
  });
  if (result.exitCode !== 0) {
    throw new RuntimeError(
      `podlab-agent ${steps.map((s) => s.verb).join(', ')} failed on node ${node.name} (exit ${result.exitCode}): ${(result.stderr || result.stdout).trim()}`,
      `look inside with: lab exec ${node.name} -- sh`,
    );
  }
  return result.stdout;
}

/** One step of `agentTogether`: an agent verb and its input, or a fixed command of podlab's own. */
export type AgentStep = { verb: string; input: string } | { argv: string[] };

/** What one step of `agentTogether` printed, and its exit code. */
export interface StepOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** A word the shell takes as it is: single-quoted. */
const quoted = (word: string) => `'${word.replaceAll("'", "'\\''")}'`;

/**
 * Runs several steps in a node in one exec, all at once, and gives back each one's output and exit
 * code (a failed step does not stop the others): the probes of all concurrent checks in one exec per
 * node. Inputs travel in environment variables; a command's words are quoted, never interpreted.
 */
export async function agentTogether(
  runtime: Runtime,
  node: { name: string; container: string },
  steps: AgentStep[],
): Promise<StepOutput[]> {
  for (const step of steps)
    if ('verb' in step && !(step.verb in agentVerbs))
      throw new RuntimeError(`podlab-agent has no verb ${step.verb}`);
  const run = (step: AgentStep, i: number) =>
    'verb' in step
      ? `PODLAB_INPUT=$PODLAB_STEP_${i} podlab-agent ${step.verb}`
      : step.argv.map(quoted).join(' ');
  const script = [
    'd=$(mktemp -d) || exit 1',
    ...steps.map((step, i) => `{ ${run(step, i)} >"$d/${i}" 2>"$d/${i}.err"; echo $? >"$d/${i}.rc"; } &`),
    'wait',
    `for i in ${steps.map((_, i) => i).join(' ')}; do`,
    `  printf '\\n@@podlab-step %s %s@@\\n' "$i" "$(cat "$d/$i.rc")"; cat "$d/$i"`,
    `  printf '\\n@@podlab-stderr %s@@\\n' "$i"; cat "$d/$i.err"`,
    'done',
    'rm -rf "$d"',
  ].join('\n');
  const inputs = Object.fromEntries(
    steps.flatMap((step, i) => ('verb' in step ? [[`PODLAB_STEP_${i}`, step.input]] : [])),
  );
  const result = await runtime.exec(node.container, ['sh', '-c', script], {
    env: { ...agentEnv, ...inputs },
  });
  const outputs = parseSteps(result.stdout, steps.length);
  if (result.exitCode !== 0 || outputs.some((o) => o === undefined)) {
    throw new RuntimeError(
      `podlab-agent failed on node ${node.name} (exit ${result.exitCode}): ${(result.stderr || result.stdout).trim()}`,
      `look inside with: lab exec ${node.name} -- sh`,
    );
  }
  return outputs as StepOutput[];
}

/** Splits `agentTogether`'s output into its steps (pure); a step missing from it is undefined. */
export function parseSteps(text: string, count: number): (StepOutput | undefined)[] {
  const outputs: (StepOutput | undefined)[] = Array.from({ length: count }, () => undefined);
  const parts = text.split(/\n@@podlab-(step|stderr) (\d+)(?: (-?\d+))?@@\n/);
  // parts: [before, kind, index, code, content, kind, index, code, content, …]
  for (let i = 1; i + 3 < parts.length; i += 4) {
    const [kind, index, code, content = ''] = parts.slice(i, i + 4);
    const n = Number(index);
    if (!(n >= 0 && n < count)) continue;
    if (kind === 'step') outputs[n] = { code: Number(code ?? -1), stdout: content, stderr: '' };
    else if (outputs[n]) outputs[n] = { ...outputs[n], stderr: content };
  }
  return outputs;
}

export interface AgentSession {
  /** Closes the verb's input (it then stops what it started) and waits for it to end. */
  stop(): Promise<void>;
  /** What the verb printed before `ready`. */
  readonly output: string;
}

/**
 * Starts a long-running agent verb (probe-serve): resolves once it prints `ready`, fails when it ends
 * before that. It lives until `stop` closes its input, or until this process dies and the engine
 * closes it: its lifetime is the run's, never a clock's.
 */
export async function agentSession(
  runtime: Runtime,
  node: { name: string; container: string },
  args: string[],
  env: Record<string, string> = {},
): Promise<AgentSession> {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  let isReady = false;
  const fail = (detail: string) =>
    new RuntimeError(
      `podlab-agent ${args.join(' ')} failed on node ${node.name}: ${detail}`,
      `look inside with: lab exec ${node.name} -- sh`,
    );
  const running = runtime.exec(node.container, ['podlab-agent', ...args], {
    env: { ...env, ...agentEnv, PODLAB_INPUT: '' },
    stdin,
    sinks: { stdout, stderr },
  });
  const ready = new Promise<void>((resolve, reject) => {
    stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (/^ready$/m.test(out)) {
        isReady = true;
        resolve();
      }
    });
    stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    running.then(
      (r) => {
        if (!isReady) reject(fail(`exit ${r.exitCode} before it was ready: ${(err || out).trim()}`));
      },
      (error: unknown) => reject(error),
    );
  });
  await ready;
  return {
    output: out.slice(0, out.search(/^ready$/m)),
    async stop() {
      stdin.end();
      const r = await running;
      if (r.exitCode !== 0) throw fail(`exit ${r.exitCode} while stopping: ${err.trim()}`);
    },
  };
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

import {
  type AgentStep,
  agentEnv,
  agentSession,
  agentTogether,
  jsonLines,
  type StepOutput,
} from '../agent/agent.js';
import { type Clock, systemClock } from '../clock.js';
import { RuntimeError } from '../errors.js';
import type { Runtime } from '../runtime/runtime.js';
import type { LabState, NodeState } from '../state/observe.js';

/** The port of the short-lived echo listeners that checks probe (the well-known echo port). */
export const probePort = 7;

/** One HTTP probe: from a pod (`ns/pod`) or a node (`node:NAME`) to a URL. */
export interface HttpProbe {
  from: string;
  url: string;
  /** Seconds to wait for the connection (the answer gets 2 more); podlab-agent's default is 3. */
  timeout?: number;
}

/** What one HTTP probe got: curl's exit code, the body, curl's error, and how long it took. */
export interface HttpResult extends HttpProbe {
  code: number;
  body: string;
  error: string;
  ms: number;
  /**
   * Set when the probe failed but the failure cannot be the lab's to answer for: why (its listener
   * was down, or the machine too busy to tell). A check reports it as uncertain, not as failed.
   */
  uncertain?: string;
}

/** Parses probe-http's tab-separated lines: FROM URL CURL-EXIT SECONDS BODY ERROR. */
export function parseHttpLines(text: string): HttpResult[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => {
      const [from = '', url = '', code = '-1', seconds = '0', body = '', error = ''] = line.split('\t');
      return { from, url, code: Number(code), body, error, ms: Math.round(Number(seconds) * 1000) };
    });
}

/**
 * How long a failed probe is given when it is asked again, alone: ten seconds, or four times the
 * slowest answer of its run when the machine is slower than that (a minute at most), so that the
 * wait grows with what the machine shows it needs.
 */
export function patience(slowestMs: number): number {
  return Math.min(60, Math.max(10, Math.ceil((4 * slowestMs) / 1000)));
}

/** What one don't-fragment ping got: ping's exit code and the line that says why. */
export interface PingResult {
  from: string;
  ip: string;
  size: number;
  code: number;
  output: string;
}

/** Parses probe-ping's tab-separated lines: FROM IP SIZE PING-EXIT OUTPUT. */
export function parsePingLines(text: string): PingResult[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => {
      const [from = '', ip = '', size = '0', code = '-1', output = ''] = line.split('\t');
      return { from, ip, size: Number(size), code: Number(code), output };
    });
}

/** One reachability probe (podlab-probe connect): from a pod (`ns/pod`) or node (`node:NAME`) to IP:PORT/PROTOCOL. */
export interface ConnectProbe {
  from: string;
  ip: string;
  port: number;
  protocol: 'TCP' | 'UDP';
  /** Seconds to wait for a sign of life (podlab-probe's default is 3). */
  timeout?: number;
}

/**
 * What got back: `connected`, `refused` (a reset, or ICMP port unreachable) or `answered` (UDP) mean
 * a packet got through; `timeout` that none did; `error` and `no-such-pod` that the probe could not run.
 */
export interface ConnectResult extends ConnectProbe {
  result: 'connected' | 'refused' | 'answered' | 'timeout' | 'error' | 'no-such-pod' | 'no-result';
  ms: number;
}

/** Whether a connect result means a packet got through. */
export const reached = (r: ConnectResult) => ['connected', 'refused', 'answered'].includes(r.result);

/** Parses probe-connect's tab-separated lines: FROM IP PORT PROTO RESULT SECONDS. */
export function parseConnectLines(text: string): ConnectResult[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => {
      const [from = '', ip = '', port = '0', protocol = 'TCP', result = 'error', seconds = '0'] =
        line.split('\t');
      return {
        from,
        ip,
        port: Number(port),
        protocol: protocol as ConnectProbe['protocol'],
        result: result as ConnectResult['result'],
        ms: Math.round(Number(seconds) * 1000),
      };
    });
}

/** What podlab-echo answers. */
export interface Echo {
  pod: string;
  ip: string;
  port: number;
  peer: string;
  peerPort: number;
}

/** Parses an echo answer; undefined when the body is not one. */
export function parseEcho(body: string): Echo | undefined {
  try {
    const value = JSON.parse(body) as Partial<Echo>;
    return typeof value.peer === 'string' && typeof value.pod === 'string' ? (value as Echo) : undefined;
  } catch {
    return undefined;
  }
}

/** The probe listeners of a run: stopped together; `pods` has what each node's agent said of its pods. */
export interface Listeners {
  stop(): Promise<void>;
  /** By node name: the node's `pods` output, which probe-serve prints once its listeners listen (agents of labs made before it print none). */
  pods: Map<string, string>;
}

/**
 * Starts echo listeners on `probePort` in every running node and its pods (one long exec per node);
 * they live until `stop` (or until this process dies), however long the run takes.
 */
export async function serveProbes(
  runtime: Runtime,
  nodes: readonly { name: string; container: string; state: string }[],
): Promise<Listeners> {
  const running = nodes.filter((n) => n.state === 'running');
  const sessions = await Promise.allSettled(
    running.map((n) => agentSession(runtime, n, ['probe-serve', String(probePort)])),
  );
  const started = sessions.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const stop = async () => {
    await Promise.all(started.map((s) => s.stop()));
  };
  const failed = sessions.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await stop().catch(() => {});
    throw failed.reason;
  }
  const pods = new Map(
    running.flatMap((n, i) => {
      const s = sessions[i]!;
      return s.status === 'fulfilled' && /"ready"/.test(s.value.output)
        ? [[n.name, s.value.output] as const]
        : [];
    }),
  );
  return { stop, pods };
}

/**
 * Runs probes from inside the lab: every request is made by the node that hosts its source, in the
 * source's own network namespace, with one exec per node for a whole batch.
 */
export class Probes {
  /** How many failed probes were asked again before they counted, and the time that took (ms, wall). */
  confirmedProbes = 0;
  confirmMs = 0;
  private confirming = 0;
  private confirmStarted = 0;

  constructor(
    private readonly runtime: Runtime,
    private readonly state: LabState,
    private readonly clock: Clock = systemClock,
  ) {
    this.batch = new NodeBatcher(runtime);
  }

  private nodeOf(from: string): NodeState {
    const name = from.startsWith('node:')
      ? from.slice(5)
      : this.state.pods.find((p) => `${p.namespace}/${p.name}` === from)?.node;
    const node = this.state.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no node for probe source ${from}`);
    return node;
  }

  /**
   * Starts echo listeners on `probePort` in every node and pod (serveProbes); they live until
   * `stop` (or until this process dies), however long the run takes.
   */
  serve(): Promise<Listeners> {
    return serveProbes(this.runtime, this.state.nodes);
  }

  /** Every request of the concurrent checks, one exec per node per window (all verbs together). */
  private readonly batch: NodeBatcher;

  /** Each line of an agent step's output, found by its input (parsed once per output). */
  private readonly parsed = new WeakMap<StepOutput, Map<string, unknown>>();

  private async line<Line>(
    node: NodeState,
    verb: string,
    input: string,
    parse: (inputs: string[], stdout: string) => Map<string, Line>,
  ): Promise<Line | undefined> {
    const { output, inputs } = await this.batch.verb(node, verb, input);
    let byInput = this.parsed.get(output) as Map<string, Line> | undefined;
    if (!byInput) {
      byInput = parse(inputs, output.stdout);
      this.parsed.set(output, byInput);
    }
    return byInput.get(input);
  }

  private httpLine(node: NodeState, input: string) {
    return this.line(node, 'probe-http', input, (inputs, stdout) => {
      const byProbe = new Map(parseHttpLines(stdout).map((l) => [`${l.from} ${l.url}`, l]));
      // An input may carry a timeout after FROM and URL; its result is found by those two.
      return new Map(
        inputs.flatMap((i) => {
          const line = byProbe.get(i.split(' ').slice(0, 2).join(' '));
          return line ? [[i, line] as const] : [];
        }),
      );
    });
  }

  /** Sends one don't-fragment ping of `size` payload bytes per probe, from a pod (`ns/pod`) or node (`node:NAME`). */
  async ping(probes: { from: string; ip: string; size: number }[]): Promise<PingResult[]> {
    return Promise.all(
      probes.map(async (p) => {
        const source = p.from.startsWith('node:') ? '-' : p.from;
        const hit = await this.line(
          this.nodeOf(p.from),
          'probe-ping',
          `${source} ${p.ip} ${p.size}`,
          (_, out) => new Map(parsePingLines(out).map((l) => [`${l.from} ${l.ip} ${l.size}`, l])),
        );
        return hit ? { ...hit, from: p.from } : { ...p, code: -1, output: 'the node reported no result' };
      }),
    );
  }

  /** Tries each probe once (podlab-probe connect), all of a node's in one exec; results in the order asked. */
  async connect(probes: ConnectProbe[]): Promise<ConnectResult[]> {
    return Promise.all(
      probes.map(async (p) => {
        const source = p.from.startsWith('node:') ? '-' : p.from;
        const id = (from: string, ip: string, port: number, protocol: string) =>
          `${from} ${ip} ${port} ${protocol}`;
        const hit = await this.line(
          this.nodeOf(p.from),
          'probe-connect',
          `${id(source, p.ip, p.port, p.protocol)}${p.timeout ? ` ${p.timeout}` : ''}`,
          (inputs, out) => {
            const byProbe = new Map(
              parseConnectLines(out).map((l) => [id(l.from, l.ip, l.port, l.protocol), l]),
            );
            return new Map(
              inputs.flatMap((i) => {
                const line = byProbe.get(i.split(' ').slice(0, 4).join(' '));
                return line ? [[i, line] as const] : [];
              }),
            );
          },
        );
        return hit
          ? { ...hit, from: p.from, ...(p.timeout ? { timeout: p.timeout } : {}) }
          : { ...p, result: 'no-result' as const, ms: 0 };
      }),
    );
  }

  /**
   * Runs HTTP probes from inside the lab; results come back in the order asked. A failure is not
   * taken at its word: a busy machine makes a listener miss a connection or answer late, and that is
   * no fault of the lab. So before a probe counts as failed, podlab asks the listener it was sent to
   * on that listener's own loopback (is it up?), and asks the probe again, alone, with time to spare
   * (`patience`). A probe that then answers passes; one that fails again while its listener is up is
   * the lab's (a missing route fails at once, a NAT rule answers from the wrong address, a missing
   * way back times out again); one whose listener is down, or whose listener took longer on its own
   * loopback than half the time given, is marked uncertain, with why.
   */
  async http(probes: HttpProbe[]): Promise<HttpResult[]> {
    const results = await this.httpOnce(probes);
    const failed = results.map((r, i) => (r.code !== 0 ? i : -1)).filter((i) => i >= 0);
    if (failed.length === 0) return results;
    const seconds = patience(Math.max(0, ...results.filter((r) => r.code === 0).map((r) => r.ms)));
    // Wall time while any check is confirming (checks run concurrently: their spans are merged).
    if (this.confirming++ === 0) this.confirmStarted = this.clock.now();
    this.confirmedProbes += failed.length;
    const [listeners, again] = await Promise.all([
      this.listeners(
        failed.map((i) => probes[i]!.url),
        seconds,
      ),
      this.httpOnce(failed.map((i) => ({ ...probes[i]!, timeout: seconds }))),
    ]).finally(() => {
      if (--this.confirming === 0) this.confirmMs += Math.round(this.clock.now() - this.confirmStarted);
    });
    failed.forEach((i, j) => {
      const r = again[j]!;
      const listener = listeners.get(listenerOf(r.url));
      if (r.code !== 0 && listener && !listener.up)
        results[i] = {
          ...r,
          uncertain: `the probe listener in ${listener.where} did not answer on its own loopback either (${listener.detail}): podlab's listener failed there, not the lab's network`,
        };
      else if (r.code === 28 && listener && listener.ms > (seconds * 1000) / 2)
        results[i] = {
          ...r,
          uncertain: `the machine is too busy to tell: the listener in ${listener.where} took ${(listener.ms / 1000).toFixed(1)} s to answer on its own loopback, and the probe timed out after ${seconds + 2} s`,
        };
      else results[i] = r;
    });
    return results;
  }

  /**
   * Asks the listener behind each URL that is a pod's or node's probe listener, from inside that pod
   * or node on 127.0.0.1: whether it is up, and how long it took.
   */
  private async listeners(
    urls: string[],
    seconds: number,
  ): Promise<Map<string, { up: boolean; ms: number; detail: string; where: string }>> {
    const owners = new Map<string, { from: string; where: string }>();
    for (const url of new Set(urls)) {
      const m = /^http:\/\/([\d.]+):(\d+)\//.exec(url);
      if (!m || Number(m[2]) !== probePort) continue;
      const pod = this.state.pods.find((p) => p.ip === m[1]);
      const node = this.state.nodes.find((n) => n.ip === m[1]);
      if (pod)
        owners.set(listenerOf(url), {
          from: `${pod.namespace}/${pod.name}`,
          where: `pod ${pod.namespace}/${pod.name}`,
        });
      else if (node) owners.set(listenerOf(url), { from: `node:${node.name}`, where: `node ${node.name}` });
    }
    const asked = [...owners];
    const answers = await this.httpOnce(
      asked.map(([, o]) => ({ from: o.from, url: `http://127.0.0.1:${probePort}/`, timeout: seconds })),
    );
    return new Map(
      asked.map(([key, o], i) => {
        const a = answers[i]!;
        const up = a.code === 0 && parseEcho(a.body) !== undefined;
        return [
          key,
          { up, ms: a.ms, where: o.where, detail: up ? 'it did' : a.error.trim() || `curl exit ${a.code}` },
        ];
      }),
    );
  }

  private async httpOnce(probes: HttpProbe[]): Promise<HttpResult[]> {
    return Promise.all(
      probes.map(async (p) => {
        const source = p.from.startsWith('node:') ? '-' : p.from;
        const input = `${source} ${p.url}${p.timeout ? ` ${p.timeout}` : ''}`;
        const hit = await this.httpLine(this.nodeOf(p.from), input);
        return hit
          ? { ...hit, from: p.from }
          : { ...p, code: -1, body: '', error: 'the node reported no result for this probe', ms: 0 };
      }),
    );
  }

  /** Resolves names with pods' own resolvers. */
  async resolve(
    queries: { from: string; name: string }[],
  ): Promise<{ from: string; name: string; code: number; answer: string }[]> {
    const once = (batch: { from: string; name: string }[]) =>
      Promise.all(
        batch.map(
          async (q) =>
            (await this.line(this.nodeOf(q.from), 'probe-resolve', `${q.from} ${q.name}`, (_, out) => {
              const lines = out
                .split('\n')
                .filter(Boolean)
                .map((line) => {
                  const [from = '', name = '', code = '-1', answer = ''] = line.split('\t');
                  return { from, name, code: Number(code), answer: answer.split(';').join('\n') };
                });
              return new Map(lines.map((l) => [`${l.from} ${l.name}`, l]));
            })) ?? {
              ...q,
              code: -1,
              answer: 'no result',
            },
        ),
      );
    // A lookup that found nothing is asked once more before it counts: on a busy machine the
    // resolver's own timeout can run out while the DNS pod waits for the CPU.
    const results = await once(queries);
    const failed = results.map((r, i) => (r.code !== 0 ? i : -1)).filter((i) => i >= 0);
    if (failed.length) {
      const again = await once(failed.map((i) => queries[i]!));
      failed.forEach((i, j) => {
        results[i] = again[j]!;
      });
    }
    return results;
  }

  /** Every pod's /etc/resolv.conf, by `ns/pod`. */
  async resolvConfs(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    await Promise.all(
      this.state.nodes
        .filter((n) => n.state === 'running')
        .map(async (n) => {
          for (const l of jsonLines<{ pod: string; resolv: string }>(
            (await this.batch.verb(n, 'resolv', '')).output.stdout,
          ))
            out.set(l.pod, l.resolv);
        }),
    );
    return out;
  }

  /** Runs a command in a node for evidence; its output, or what went wrong. */
  async inNode(node: string, cmd: string[]): Promise<string> {
    const n = this.state.nodes.find((x) => x.name === node);
    if (!n) return `(no node ${node})`;
    const r = await this.batch.command(n, cmd);
    return (r.stdout + r.stderr).trim();
  }
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** What a verb's waiters get: the step's whole output and every input it was given. */
interface VerbOutput {
  output: StepOutput;
  inputs: string[];
}

/**
 * Coalesces what concurrent checks ask of the nodes within a few milliseconds into one exec per
 * node: every agent verb (each distinct input line once: pod-to-pod and self-ip probe the same
 * pairs) and every command, run side by side in the node (agentTogether). Exec handling in the
 * engine, not the probes, is what a lab test on many nodes waits for.
 */
class NodeBatcher {
  private queue = new Map<
    NodeState,
    Map<
      string,
      | { verb: string; inputs: Map<string, Waiter<VerbOutput>[]> }
      | { argv: string[]; waiting: Waiter<StepOutput>[] }
    >
  >();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly runtime: Runtime,
    private readonly windowMs = 15,
  ) {}

  private steps(node: NodeState) {
    const steps = this.queue.get(node) ?? new Map();
    this.queue.set(node, steps);
    this.timer ??= setTimeout(() => void this.flush(), this.windowMs);
    return steps;
  }

  /** Runs agent `verb` with `input` among the lines of its step; the step's output and inputs. */
  verb(node: NodeState, verb: string, input: string): Promise<VerbOutput> {
    return new Promise((resolve, reject) => {
      const steps = this.steps(node);
      const step = steps.get(`verb ${verb}`) ?? { verb, inputs: new Map<string, Waiter<VerbOutput>[]>() };
      steps.set(`verb ${verb}`, step);
      if ('inputs' in step) step.inputs.set(input, [...(step.inputs.get(input) ?? []), { resolve, reject }]);
    });
  }

  /** Runs a command of podlab's own in the node; its output, whatever its exit code. */
  command(node: NodeState, argv: string[]): Promise<StepOutput> {
    return new Promise((resolve, reject) => {
      const steps = this.steps(node);
      const key = `argv ${JSON.stringify(argv)}`;
      const step = steps.get(key) ?? { argv, waiting: [] as Waiter<StepOutput>[] };
      steps.set(key, step);
      if ('waiting' in step) step.waiting.push({ resolve, reject });
    });
  }

  private async flush(): Promise<void> {
    const queue = this.queue;
    this.queue = new Map();
    this.timer = undefined;
    await Promise.all(
      [...queue].map(async ([node, byKey]) => {
        const pending = [...byKey.values()];
        const steps: AgentStep[] = pending.map((p) =>
          'verb' in p ? { verb: p.verb, input: [...p.inputs.keys()].join('\n') } : { argv: p.argv },
        );
        const waiters = pending.flatMap((p): { reject(error: unknown): void }[] =>
          'inputs' in p ? [...p.inputs.values()].flat() : p.waiting,
        );
        try {
          const outputs = await this.run(node, steps);
          pending.forEach((p, i) => {
            const output = outputs[i]!;
            if ('waiting' in p) {
              for (const w of p.waiting) w.resolve(output);
              return;
            }
            const inputs = [...p.inputs.keys()];
            const failed =
              output.code !== 0
                ? new RuntimeError(
                    `podlab-agent ${p.verb} failed on node ${node.name} (exit ${output.code}): ${(output.stderr || output.stdout).trim()}`,
                    `look inside with: lab exec ${node.name} -- sh`,
                  )
                : undefined;
            for (const waiting of p.inputs.values())
              for (const w of waiting) failed ? w.reject(failed) : w.resolve({ output, inputs });
          });
        } catch (error) {
          for (const w of waiters) w.reject(error);
        }
      }),
    );
  }

  /** One step runs as itself; several run side by side in one exec. */
  private async run(node: NodeState, steps: AgentStep[]): Promise<StepOutput[]> {
    if (steps.length > 1) return agentTogether(this.runtime, node, steps);
    const step = steps[0]!;
    const r =
      'verb' in step
        ? await this.runtime.exec(node.container, ['podlab-agent', step.verb], {
            env: { ...agentEnv, PODLAB_INPUT: step.input },
          })
        : await this.runtime.exec(node.container, step.argv);
    return [{ code: r.exitCode, stdout: r.stdout, stderr: r.stderr }];
  }
}

/** The listener a probe URL is sent to: `address:port`. */
function listenerOf(url: string): string {
  return /^http:\/\/([^/]+)\//.exec(url)?.[1] ?? url;
}

import { agent, jsonLines } from '../agent/agent.js';
import type { Runtime } from '../runtime/runtime.js';
import type { LabState, NodeState } from '../state/observe.js';

/** The port of the short-lived echo listeners that checks probe (the well-known echo port). */
export const probePort = 7;

/** curl exit codes that a busy listener causes and a second try clears (see Probes.http). */
const transient = new Set([1, 28, 52, 56]);

/** One HTTP probe: from a pod (`ns/pod`) or a node (`node:NAME`) to a URL. */
export interface HttpProbe {
  from: string;
  url: string;
}

/** What one HTTP probe got: curl's exit code, the body, curl's error, and how long it took. */
export interface HttpResult extends HttpProbe {
  code: number;
  body: string;
  error: string;
  ms: number;
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

/**
 * Runs probes from inside the lab: every request is made by the node that hosts its source, in the
 * source's own network namespace, with one exec per node for a whole batch.
 */
export class Probes {
  constructor(
    private readonly runtime: Runtime,
    private readonly state: LabState,
  ) {}

  private nodeOf(from: string): NodeState {
    const name = from.startsWith('node:')
      ? from.slice(5)
      : this.state.pods.find((p) => `${p.namespace}/${p.name}` === from)?.node;
    const node = this.state.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no node for probe source ${from}`);
    return node;
  }

  /** Starts echo listeners on `probePort` in every node and pod for `seconds`. */
  async serve(seconds = 120): Promise<void> {
    await Promise.all(
      this.state.nodes
        .filter((n) => n.state === 'running')
        .map((n) => agent(this.runtime, n, ['probe-serve', String(probePort), String(seconds)])),
    );
  }

  /** HTTP probes of all concurrent checks, one probe-http exec per node per window. */
  private readonly httpBatch = new Batcher<HttpResult>(async (node, inputs) => {
    const lines = parseHttpLines(await agent(this.runtime, node, ['probe-http'], inputs.join('\n')));
    return new Map(lines.map((l) => [`${l.from} ${l.url}`, l]));
  });

  /** Name lookups of all concurrent checks, one probe-resolve exec per node per window. */
  private readonly resolveBatch = new Batcher<{ from: string; name: string; code: number; answer: string }>(
    async (node, inputs) => {
      const out = await agent(this.runtime, node, ['probe-resolve'], inputs.join('\n'));
      const lines = out
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [from = '', name = '', code = '-1', answer = ''] = line.split('\t');
          return { from, name, code: Number(code), answer: answer.split(';').join('\n') };
        });
      return new Map(lines.map((l) => [`${l.from} ${l.name}`, l]));
    },
  );

  /**
   * Runs HTTP probes from inside the lab; results come back in the order asked. A probe that failed
   * the way an overloaded listener fails is asked once more: timed out (curl exit 28), an empty
   * reply (52), a reply without HTTP headers (1: the listener gave up waiting for the request) or a
   * reset (56). With thousands of probes on a small machine a listener can miss one, while real
   * faults fail the same way twice (a missing route fails at once, a NAT rule answers from the wrong
   * address, a missing way back times out again).
   */
  async http(probes: HttpProbe[]): Promise<HttpResult[]> {
    const first = await this.httpOnce(probes);
    const again = first.map((r, i) => (transient.has(r.code) ? i : -1)).filter((i) => i >= 0);
    if (again.length === 0) return first;
    const retried = await this.httpOnce(again.map((i) => probes[i]!));
    again.forEach((i, j) => {
      first[i] = retried[j]!;
    });
    return first;
  }

  private async httpOnce(probes: HttpProbe[]): Promise<HttpResult[]> {
    return Promise.all(
      probes.map(async (p) => {
        const source = p.from.startsWith('node:') ? '-' : p.from;
        const hit = await this.httpBatch.ask(this.nodeOf(p.from), `${source} ${p.url}`);
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
    return Promise.all(
      queries.map(
        async (q) =>
          (await this.resolveBatch.ask(this.nodeOf(q.from), `${q.from} ${q.name}`)) ?? {
            ...q,
            code: -1,
            answer: 'no result',
          },
      ),
    );
  }

  /** Every pod's /etc/resolv.conf, by `ns/pod`. */
  async resolvConfs(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    await Promise.all(
      this.state.nodes
        .filter((n) => n.state === 'running')
        .map(async (n) => {
          for (const l of jsonLines<{ pod: string; resolv: string }>(
            await agent(this.runtime, n, ['resolv']),
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
    const r = await this.runtime.exec(n.container, cmd);
    return (r.stdout + r.stderr).trim();
  }
}

/**
 * Coalesces the requests that concurrent checks make within a few milliseconds into one exec per
 * node, and asks each distinct request once (pod-to-pod and self-ip probe the same pairs): exec
 * handling in the engine, not the probes, is what a lab test on many nodes waits for.
 */
class Batcher<Line> {
  private queue = new Map<
    NodeState,
    Map<string, { resolve(line: Line | undefined): void; reject(error: unknown): void }[]>
  >();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly run: (node: NodeState, inputs: string[]) => Promise<Map<string, Line>>,
    private readonly windowMs = 15,
  ) {}

  ask(node: NodeState, input: string): Promise<Line | undefined> {
    return new Promise((resolve, reject) => {
      const byInput = this.queue.get(node) ?? new Map();
      this.queue.set(node, byInput);
      byInput.set(input, [...(byInput.get(input) ?? []), { resolve, reject }]);
      this.timer ??= setTimeout(() => void this.flush(), this.windowMs);
    });
  }

  private async flush(): Promise<void> {
    const queue = this.queue;
    this.queue = new Map();
    this.timer = undefined;
    await Promise.all(
      [...queue].map(async ([node, byInput]) => {
        try {
          const results = await this.run(node, [...byInput.keys()]);
          for (const [input, waiting] of byInput) for (const w of waiting) w.resolve(results.get(input));
        } catch (error) {
          for (const waiting of byInput.values()) for (const w of waiting) w.reject(error);
        }
      }),
    );
  }
}

import { agent, jsonLines } from '../apply/agent.js';
import type { Runtime } from '../runtime/runtime.js';
import type { LabState, NodeState } from '../state/observe.js';

/** The port of the short-lived echo listeners that checks probe (the well-known echo port). */
export const probePort = 7;

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

  /** Runs HTTP probes, batched per node; results come back in the order asked. */
  async http(probes: HttpProbe[]): Promise<HttpResult[]> {
    const source = (p: HttpProbe) => (p.from.startsWith('node:') ? '-' : p.from);
    const byNode = new Map<NodeState, HttpProbe[]>();
    for (const p of probes) {
      const node = this.nodeOf(p.from);
      byNode.set(node, [...(byNode.get(node) ?? []), p]);
    }
    // Answers keyed by "node source url"; the same probe asked n times gets n answers.
    const answers = new Map<string, HttpResult[]>();
    await Promise.all(
      [...byNode].map(async ([node, batch]) => {
        const input = batch.map((p) => `${source(p)} ${p.url}`).join('\n');
        for (const line of jsonLines<HttpResult>(await agent(this.runtime, node, ['probe-http'], input))) {
          const k = `${node.name} ${line.from} ${line.url}`;
          answers.set(k, [...(answers.get(k) ?? []), line]);
        }
      }),
    );
    return probes.map((p) => {
      const hit = answers.get(`${this.nodeOf(p.from).name} ${source(p)} ${p.url}`)?.shift();
      return hit
        ? { ...hit, from: p.from }
        : { ...p, code: -1, body: '', error: 'the node reported no result for this probe', ms: 0 };
    });
  }

  /** Resolves names with pods' own resolvers, batched per node. */
  async resolve(
    queries: { from: string; name: string }[],
  ): Promise<{ from: string; name: string; code: number; answer: string }[]> {
    const out: { from: string; name: string; code: number; answer: string }[] = [];
    const byNode = new Map<NodeState, { from: string; name: string }[]>();
    for (const q of queries) {
      const node = this.nodeOf(q.from);
      byNode.set(node, [...(byNode.get(node) ?? []), q]);
    }
    await Promise.all(
      [...byNode].map(async ([node, batch]) => {
        const input = batch.map((q) => `${q.from} ${q.name}`).join('\n');
        out.push(
          ...jsonLines<{ from: string; name: string; code: number; answer: string }>(
            await agent(this.runtime, node, ['probe-resolve'], input),
          ),
        );
      }),
    );
    return queries.map(
      (q) =>
        out.find((o) => o.from === q.from && o.name === q.name) ?? { ...q, code: -1, answer: 'no result' },
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

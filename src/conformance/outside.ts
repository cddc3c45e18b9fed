import { agent } from '../agent/agent.js';
import { Label } from '../labels.js';
import { formatIp, hostAt, parseCidr, size } from '../net/ipv4.js';
import { names } from '../plan/names.js';
import type { ContainerSpec } from '../plan/types.js';
import type { Runtime } from '../runtime/runtime.js';
import type { LabState } from '../state/observe.js';
import { type HttpResult, parseHttpLines } from './probes.js';

/**
 * The address of a client outside the cluster on the lab's node network: the highest one that no
 * node has (nor `taken`), so that it never stands where `up` puts the next node; undefined when the
 * subnet is full.
 */
export function outsideAddress(
  nodeSubnet: string,
  nodeIps: string[],
  taken: string[] = [],
): string | undefined {
  const subnet = parseCidr(nodeSubnet);
  const used = new Set([...nodeIps, ...taken]);
  for (let offset = size(subnet) - 2; offset >= 2; offset--) {
    const ip = formatIp(hostAt(subnet, offset));
    if (!used.has(ip)) return ip;
  }
  return undefined;
}

/** How long the client lives at most when nothing stops it (podlab killed): the engine then removes it. */
const lifetimeSeconds = 3600;

/**
 * A client outside the cluster, as a user's machine is: a short-lived container that is not a node
 * (no pod routes, no kube-proxy rules), on the lab's node network (it reaches only node IPs) or in the
 * engine host's own network namespace (published host ports, as a curl on that host). Works wherever
 * the engine is, since nothing leaves from the CLI's own network. Started on first use.
 */
export class Outside {
  private started: Promise<string> | undefined;

  constructor(
    private readonly runtime: Runtime,
    private readonly state: LabState,
    private readonly where: 'node-network' | 'engine-host' = 'node-network',
  ) {}

  /** Fetches each URL from the client, concurrently. */
  async http(probes: { url: string; timeout?: number }[]): Promise<HttpResult[]> {
    const name = await this.start();
    const input = probes.map((p) => `- ${p.url}${p.timeout ? ` ${p.timeout}` : ''}`).join('\n');
    const lines = parseHttpLines(
      await agent(this.runtime, { name: 'the outside client', container: name }, ['probe-http'], input),
    );
    return probes.map(
      (p) =>
        lines.find((l) => l.url === p.url) ?? {
          from: '-',
          url: p.url,
          code: -1,
          body: '',
          error: 'no answer from the outside client',
          ms: 0,
        },
    );
  }

  /** Removes the client, if it was started. */
  async stop(): Promise<void> {
    if (!this.started) return;
    const name = await this.started.catch(() => undefined);
    if (name) await this.runtime.removeContainer(name);
  }

  private start(): Promise<string> {
    this.started ??= (async () => {
      const { state } = this;
      let network: ContainerSpec['network'] = { mode: 'host' };
      if (this.where === 'node-network') {
        const ip = outsideAddress(
          state.nodeSubnet,
          state.nodes.map((n) => n.ip),
          state.plan?.publisher ? [state.plan.publisher.ip] : [],
        );
        if (!ip)
          throw new Error(
            `the node subnet ${state.nodeSubnet} has no address left for a client outside the cluster`,
          );
        network = { mode: 'bridge', network: state.network?.name ?? names.network(state.name), ip };
      }
      const name = `podlab-${state.name}_${this.where === 'node-network' ? 'outside' : 'host'}-${process.pid}`;
      await this.runtime.runContainer({
        name,
        image: state.plan?.image ?? state.network?.labels[Label.image] ?? '',
        labels: { [Label.lab]: state.name, [Label.role]: 'helper' },
        env: {},
        cmd: ['sleep', String(lifetimeSeconds)],
        network,
        capAdd: [],
        sysctls: {},
        autoRemove: true,
      });
      return name;
    })();
    return this.started;
  }
}

import { Readable } from 'node:stream';
import { readyMarkerPath } from '../../src/agent/agent.js';
import type { ContainerSpec, NetworkSpec } from '../../src/plan/types.js';
import type {
  BuildRequest,
  ContainerInfo,
  ExecOptions,
  ExecResult,
  NetworkInfo,
  Runtime,
} from '../../src/runtime/runtime.js';

/** One call the fake saw, in order. */
export interface Call {
  method: keyof Runtime;
  target?: string;
  args?: string[];
  input?: string;
  env?: Record<string, string>;
}

/**
 * A Runtime that keeps containers and networks in memory and records every call, for apply tests.
 * Node-side agent verbs answer as a real node would (CNI ADD hands out addresses in the node's range).
 * `failOn` makes one call throw, to test rollback.
 */
export class FakeRuntime implements Runtime {
  readonly calls: Call[] = [];
  readonly containers = new Map<string, ContainerInfo & { spec: ContainerSpec }>();
  readonly networks = new Map<string, NetworkInfo>();
  failOn?: (call: Call) => Error | undefined;
  /** What an exec answers, when the test says (else the agent's verbs answer as a node would). */
  execOutput?: (call: Call) => ExecResult | undefined;
  /** Milliseconds a call takes (default 0): to keep a step running while a test interrupts it. */
  delayOn?: (call: Call) => number;
  private nextId = 1;
  private readonly podIps = new Map<string, string>();
  /** Files written into containers by `podlab-agent write-file`, by `container:path`. */
  readonly files = new Map<string, string>();

  private async record(call: Call): Promise<void> {
    this.calls.push(call);
    const delay = this.delayOn?.(call) ?? 0;
    if (delay) await new Promise((r) => setTimeout(r, delay));
    const error = this.failOn?.(call);
    if (error) throw error;
  }

  async version() {
    await this.record({ method: 'version' });
    return { version: 'fake', apiVersion: '1.41' };
  }

  async info() {
    await this.record({ method: 'info' });
    return { operatingSystem: 'Fake OS', securityOptions: [], kernelVersion: '6.0' };
  }

  async listNetworks(labels?: Record<string, string>): Promise<NetworkInfo[]> {
    await this.record({ method: 'listNetworks' });
    return [...this.networks.values()].filter((n) => matchLabels(n.labels, labels ?? {}));
  }

  async createNetwork(spec: NetworkSpec): Promise<string> {
    await this.record({ method: 'createNetwork', target: spec.name });
    const id = `net${this.nextId++}`;
    this.networks.set(id, { id, name: spec.name, subnets: [spec.subnet], labels: spec.labels });
    return id;
  }

  async removeNetwork(id: string): Promise<void> {
    await this.record({ method: 'removeNetwork', target: id });
    this.networks.delete(id);
  }

  async listContainers(labels: Record<string, string>): Promise<ContainerInfo[]> {
    await this.record({ method: 'listContainers' });
    return [...this.containers.values()].filter((c) => matchLabels(c.labels, labels));
  }

  async runContainer(spec: ContainerSpec): Promise<string> {
    await this.record({ method: 'runContainer', target: spec.name });
    const id = `c${this.nextId++}`;
    const ips = spec.network.mode === 'bridge' ? { [spec.network.network]: spec.network.ip } : {};
    this.containers.set(id, {
      id,
      name: spec.name,
      state: 'running',
      image: spec.image,
      labels: spec.labels,
      ips,
      spec,
    });
    return id;
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    await this.record({ method: 'createContainer', target: spec.name });
    const id = `c${this.nextId++}`;
    this.containers.set(id, {
      id,
      name: spec.name,
      state: 'created',
      image: spec.image,
      labels: spec.labels,
      ips: {},
      spec,
    });
    return id;
  }

  async removeContainer(id: string): Promise<void> {
    await this.record({ method: 'removeContainer', target: id });
    this.containers.delete(id);
  }

  async exec(container: string, cmd: string[], options: ExecOptions = {}): Promise<ExecResult> {
    const input = options.env?.PODLAB_INPUT ?? '';
    await this.record({ method: 'exec', target: container, args: cmd, input, env: options.env ?? {} });
    const node = [...this.containers.values()].find((c) => c.name === container);
    if (!node) return { exitCode: 1, stdout: '', stderr: `no container ${container}` };
    const told = this.execOutput?.(this.calls.at(-1)!);
    if (told) return told;
    if (cmd[0] === 'podlab-agent' && cmd[1] === 'cni') {
      const range = node.labels['io.podlab.pod-cidr']!;
      const [base] = range.split('/');
      const prefix = base!.split('.').slice(0, 3).join('.');
      let host = 2;
      const lines = input
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [pod = '', , asked] = line.split(' ');
          const ip = asked ?? `${prefix}.${host++}`;
          this.podIps.set(pod, ip);
          return JSON.stringify({ pod, result: { ips: [{ address: `${ip}/24` }] } });
        });
      return { exitCode: 0, stdout: `${lines.join('\n')}\n`, stderr: '' };
    }
    if (cmd[0] === 'podlab-agent' && cmd[1] === 'pods') {
      const nodeName = node.labels['io.podlab.node'];
      const lines = [...this.containers.values()]
        .filter((c) => c.labels['io.podlab.role'] === 'sandbox' && c.labels['io.podlab.node'] === nodeName)
        .map((c, i) => {
          const pod = c.labels['io.podlab.pod']!;
          return JSON.stringify({ pod, pid: 100 + i, ip: this.podIps.get(pod) ?? '' });
        });
      const ready = JSON.stringify({ ready: this.files.get(`${container}:${readyMarkerPath}`) ?? '' });
      return { exitCode: 0, stdout: [ready, ...lines].join('\n'), stderr: '' };
    }
    if (cmd[0] === 'podlab-agent' && cmd[1] === 'probe-serve') {
      // Listens until its input closes, as the real verb does.
      options.sinks?.stdout.write('ready\n');
      if (options.stdin) await new Promise((r) => options.stdin!.once('end', r).resume());
      return { exitCode: 0, stdout: '', stderr: '' };
    }
    if (cmd[0] === 'podlab-agent' && cmd[1] === 'write-file') {
      this.files.set(`${container}:${cmd[2]}`, input);
    }
    if (cmd[0] === 'podlab-agent' && cmd[1] === 'ready') {
      this.files.set(`${container}:${readyMarkerPath}`, cmd[2]!);
    }
    // Steps in one exec (agentSteps): the ready marker of a `ready` step, its hash an argument in the environment.
    const ready = cmd[0] === 'sh' ? /podlab-agent ready "\$(PODLAB_ARG_\d+_0)"/.exec(cmd[2] ?? '') : null;
    if (ready) this.files.set(`${container}:${readyMarkerPath}`, options.env?.[ready[1]!] ?? '');
    return { exitCode: 0, stdout: '', stderr: '' };
  }

  /** Log lines each container printed, by name (a test sets them). */
  readonly logLines = new Map<string, string>();

  async wait(container: string): Promise<number> {
    await this.record({ method: 'wait', target: container });
    return (
      [...this.containers.values()].find((c) => c.name === container || c.id === container)?.exitCode ?? 0
    );
  }

  async logs(container: string): Promise<string> {
    await this.record({ method: 'logs', target: container });
    return this.logLines.get(container) ?? '';
  }

  /** Images the fake engine lacks (every other one is present). */
  readonly absentImages = new Set<string>();

  async hasImage(ref: string): Promise<boolean> {
    await this.record({ method: 'hasImage', target: ref });
    return !this.absentImages.has(ref);
  }

  async pullImage(ref: string): Promise<void> {
    await this.record({ method: 'pullImage', target: ref });
  }

  async buildImage(request: BuildRequest): Promise<void> {
    await this.record({ method: 'buildImage', target: request.tag });
  }

  async importImage(_tar: NodeJS.ReadableStream, ref: string): Promise<void> {
    await this.record({ method: 'importImage', target: ref });
    this.absentImages.delete(ref);
  }

  async saveImage(ref: string): Promise<NodeJS.ReadableStream> {
    await this.record({ method: 'saveImage', target: ref });
    return Readable.from([Buffer.from(`image ${ref}`)]);
  }

  /** Images a `loadImage` of a fake `saveImage` stream brings (the ref is in the stream). */
  async loadImage(tar: NodeJS.ReadableStream): Promise<void> {
    let text = '';
    for await (const chunk of tar) text += String(chunk);
    const ref = text.replace(/^image /, '');
    await this.record({ method: 'loadImage', target: ref });
    this.absentImages.delete(ref);
  }
}

function matchLabels(have: Record<string, string>, want: Record<string, string>): boolean {
  return Object.entries(want).every(([k, v]) => (v === '' ? k in have : have[k] === v));
}

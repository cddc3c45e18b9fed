import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import {
  EngineUnreachableError,
  HostPortTakenError,
  type LabError,
  NetworkInUseError,
  RuntimeError,
  SubnetTakenError,
  UsageError,
} from '../errors.js';
import type { ContainerSpec, NetworkSpec } from '../plan/types.js';
import { currentEngine, type Engine, engineFor } from './engine.js';
import { LabRuntime } from './lab-runtime.js';
import type {
  BuildRequest,
  ContainerInfo,
  EngineInfo,
  ExecOptions,
  ExecResult,
  LogOptions,
  NetworkInfo,
  Runtime,
  TerminalSize,
} from './runtime.js';

/** The engine podlab talks to (runtime/engine.ts decides which). */
export function engineAddress(): string {
  return currentEngine().address;
}

/** The only implementation of Runtime against a real engine, and the only file that imports dockerode. */
export class DockerRuntime implements Runtime {
  private docker!: Docker;
  private loading: Promise<void> | undefined;

  /**
   * dockerode (and the gRPC stack it brings) is loaded on the first call, so that commands that never
   * reach the engine (validate, plan, --help) start fast.
   */
  constructor(
    private readonly connect: () => Promise<Docker> = async () =>
      new (await import('dockerode')).default(currentEngine().options as Docker.DockerOptions),
    /** The engine it reaches, for messages (the CLI's own unless forEngine named another). */
    private readonly engine: () => Engine = currentEngine,
  ) {}

  /** A runtime for one engine (the CLI's own when none is given). */
  static forEngine(engine: Engine): DockerRuntime {
    return new DockerRuntime(
      async () => new (await import('dockerode')).default(engine.options as Docker.DockerOptions),
      () => engine,
    );
  }

  private ready(): Promise<void> {
    this.loading ??= this.connect().then((docker) => {
      this.docker = docker;
    });
    return this.loading;
  }

  async version(): Promise<{ version: string; apiVersion: string }> {
    const v = await this.call('reach the Docker engine', () => this.docker.version());
    return { version: v.Version, apiVersion: v.ApiVersion };
  }

  async info(): Promise<EngineInfo> {
    const i = await this.call('read the engine info', () => this.docker.info());
    const swarm = (i.Swarm ?? {}) as {
      LocalNodeState?: string;
      ControlAvailable?: boolean;
      NodeID?: string;
      NodeAddr?: string;
      Cluster?: { ID?: string };
      RemoteManagers?: { Addr?: string }[] | null;
    };
    return {
      operatingSystem: String(i.OperatingSystem ?? ''),
      securityOptions: (i.SecurityOptions ?? []) as string[],
      kernelVersion: String(i.KernelVersion ?? ''),
      swarm: {
        state: swarm.LocalNodeState || 'inactive',
        manager: Boolean(swarm.ControlAvailable),
        clusterId: swarm.Cluster?.ID ?? '',
        nodeId: swarm.NodeID ?? '',
        address: swarm.NodeAddr ?? '',
        managers: (swarm.RemoteManagers ?? []).map((m) => m.Addr ?? '').filter(Boolean),
      },
    };
  }

  async listNetworks(labels?: Record<string, string>): Promise<NetworkInfo[]> {
    const list = await this.call('list networks', () =>
      this.docker.listNetworks(labels ? { filters: { label: labelFilters(labels) } } : {}),
    );
    return list.map((n) => ({
      id: n.Id,
      name: n.Name,
      subnets: (n.IPAM?.Config ?? []).map((c) => c.Subnet).filter((s): s is string => typeof s === 'string'),
      labels: n.Labels ?? {},
    }));
  }

  async createNetwork(spec: NetworkSpec): Promise<string> {
    const network = await this.call(`create network ${spec.name}`, () =>
      this.docker.createNetwork({
        Name: spec.name,
        Driver: spec.driver ?? 'bridge',
        // An overlay serves standalone containers (the lab's) on every engine of the swarm.
        ...(spec.driver === 'overlay' ? { Attachable: true } : {}),
        CheckDuplicate: true,
        Labels: spec.labels,
        IPAM: {
          Driver: 'default',
          Config: [
            {
              Subnet: spec.subnet,
              Gateway: spec.gateway,
              ...(spec.ipRange ? { IPRange: spec.ipRange } : {}),
            },
          ],
        },
      }),
    );
    return network.id;
  }

  async removeNetwork(id: string): Promise<void> {
    await this.call(`remove network ${id}`, () => this.docker.getNetwork(id).remove(), [404]);
  }

  async listContainers(labels: Record<string, string>): Promise<ContainerInfo[]> {
    const list = await this.call('list containers', () =>
      this.docker.listContainers({ all: true, filters: { label: labelFilters(labels) } }),
    );
    return list.map((c) => ({
      id: c.Id,
      name: (c.Names[0] ?? c.Id).replace(/^\//, ''),
      state: c.State,
      ...exitCodeOf(c.Status),
      image: c.Image,
      labels: c.Labels ?? {},
      ips: Object.fromEntries(
        Object.entries(c.NetworkSettings?.Networks ?? {})
          .filter(([, n]) => n.IPAddress)
          .map(([name, n]) => [name, n.IPAddress]),
      ),
      published: (c.Ports ?? [])
        .filter((p) => p.PublicPort)
        .map((p) => ({
          hostIP: p.IP || '0.0.0.0',
          hostPort: p.PublicPort,
          protocol: p.Type === 'udp' ? ('UDP' as const) : ('TCP' as const),
        })),
    }));
  }

  async runContainer(spec: ContainerSpec): Promise<string> {
    const id = await this.createContainer(spec);
    await this.call(`start container ${spec.name}`, () => this.docker.getContainer(id).start());
    return id;
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    const network = spec.network;
    const networkMode =
      network.mode === 'bridge'
        ? network.network
        : network.mode === 'none' || network.mode === 'host'
          ? network.mode
          : `container:${network.container}`;
    const container = await this.call(`create container ${spec.name}`, () =>
      this.docker.createContainer({
        name: spec.name,
        Image: spec.image,
        // As Kubernetes runs it: an entrypoint given replaces the image's (and drops its CMD).
        ...(spec.entrypoint ? { Entrypoint: spec.entrypoint } : {}),
        ...(spec.cmd ? { Cmd: spec.cmd } : {}),
        ...(spec.workingDir ? { WorkingDir: spec.workingDir } : {}),
        Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
        Labels: spec.labels,
        ...(spec.publish?.length
          ? {
              ExposedPorts: Object.fromEntries(
                spec.publish.map((p) => [`${p.port}/${p.protocol.toLowerCase()}`, {}]),
              ),
            }
          : {}),
        ...(spec.publish?.length
          ? {
              ExposedPorts: Object.fromEntries(
                spec.publish.map((p) => [`${p.port}/${p.protocol.toLowerCase()}`, {}]),
              ),
            }
          : {}),
        // Docker refuses a hostname for containers that join another's network namespace.
        ...(spec.hostname !== undefined && network.mode !== 'container' ? { Hostname: spec.hostname } : {}),
        HostConfig: {
          NetworkMode: networkMode,
          CapAdd: spec.capAdd,
          Sysctls: spec.sysctls,
          Privileged: false,
          ...(spec.pidContainer ? { PidMode: `container:${spec.pidContainer}` } : {}),
          ...(spec.dns
            ? { Dns: spec.dns.servers, DnsSearch: spec.dns.search, DnsOptions: spec.dns.options }
            : {}),
          ...(spec.extraHosts ? { ExtraHosts: spec.extraHosts } : {}),
          ...(spec.autoRemove ? { AutoRemove: true } : {}),
          ...(spec.publish?.length
            ? {
                PortBindings: Object.fromEntries(
                  spec.publish.map((p) => [
                    `${p.port}/${p.protocol.toLowerCase()}`,
                    [{ HostIp: p.hostIP, HostPort: String(p.hostPort) }],
                  ]),
                ),
              }
            : {}),
        },
        ...(network.mode === 'bridge'
          ? {
              NetworkingConfig: {
                EndpointsConfig: { [network.network]: { IPAMConfig: { IPv4Address: network.ip } } },
              },
            }
          : {}),
      }),
    );
    return container.id;
  }

  async removeContainer(id: string): Promise<void> {
    await this.call(
      `remove container ${id}`,
      () => this.docker.getContainer(id).remove({ force: true, v: true }),
      [404],
    );
  }

  async exec(container: string, cmd: string[], options: ExecOptions = {}): Promise<ExecResult> {
    const what = `run ${cmd[0]} in ${container}`;
    const { tty } = options;
    const exec = await this.call(what, () =>
      this.docker.getContainer(container).exec({
        Cmd: cmd,
        Env: Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`),
        AttachStdout: true,
        AttachStderr: true,
        AttachStdin: options.stdin !== undefined,
        Tty: tty !== undefined,
      }),
    );
    const stream = await this.call(what, () =>
      exec.start({ hijack: true, stdin: options.stdin !== undefined, Tty: tty !== undefined }),
    );
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const stdout = options.sinks?.stdout ?? collect(out);
    const stderr = options.sinks?.stderr ?? collect(err);
    // A terminal's output is one raw stream; otherwise stdout and stderr come multiplexed.
    if (tty) stream.pipe(stdout as NodeJS.WritableStream, { end: false });
    else this.docker.modem.demuxStream(stream, stdout, stderr);
    // Listen for the end first: the command may end while its terminal is being sized.
    const done = new Promise<void>((resolve, reject) => {
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', reject);
    });
    done.catch(() => {}); // awaited below
    const resize = (size: TerminalSize) => exec.resize({ h: size.rows, w: size.columns }).catch(() => {});
    if (tty?.size) await resize(tty.size);
    const stopResizing = tty?.onResize?.(resize);
    // Input only once the terminal has its size: what is typed must not run at the default 0×0.
    if (options.stdin) {
      options.stdin.pipe(stream as unknown as NodeJS.WritableStream, { end: false });
      options.stdin.on('end', () => (stream as unknown as { end(): void }).end());
    }
    await done.finally(() => stopResizing?.());
    const info = await this.call(what, () => exec.inspect());
    return {
      exitCode: info.ExitCode ?? -1,
      stdout: Buffer.concat(out).toString('utf8'),
      stderr: Buffer.concat(err).toString('utf8'),
    };
  }

  async wait(container: string): Promise<number> {
    const r = (await this.call(`wait for ${container}`, () =>
      this.docker.getContainer(container).wait(),
    )) as {
      StatusCode?: number;
    };
    return r.StatusCode ?? -1;
  }

  async logs(container: string, options: LogOptions = {}): Promise<string> {
    const what = `read the logs of ${container}`;
    const c = this.docker.getContainer(container);
    const opts = {
      stdout: true,
      stderr: true,
      timestamps: false,
      ...(options.tail !== undefined ? { tail: options.tail } : {}),
      ...(options.since !== undefined ? { since: options.since } : {}),
    };
    if (options.sinks) {
      const stream = await this.call(what, () => c.logs({ ...opts, follow: true }));
      this.docker.modem.demuxStream(stream, options.sinks.stdout, options.sinks.stderr);
      await new Promise<void>((resolve, reject) => {
        options.signal?.addEventListener('abort', () => {
          (stream as unknown as { destroy(): void }).destroy();
          resolve();
        });
        stream.on('end', resolve);
        stream.on('close', resolve);
        stream.on('error', reject);
      });
      return '';
    }
    const buffer = await this.call(what, () => c.logs({ ...opts, follow: false }));
    return demux(buffer as unknown as Buffer);
  }

  async hasImage(ref: string): Promise<boolean> {
    await this.ready();
    try {
      await this.docker.getImage(ref).inspect();
      return true;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return false;
      throw this.wrap(`inspect image ${ref}`, error);
    }
  }

  async pullImage(ref: string): Promise<void> {
    const stream = await this.call(`pull image ${ref}`, () => this.docker.pull(ref));
    await this.follow(`pull image ${ref}`, stream);
  }

  async buildImage(request: BuildRequest): Promise<void> {
    const what = `build image ${request.tag}`;
    const stream = await this.call(what, () =>
      this.docker.buildImage(
        { context: request.context, src: request.files },
        // Host networking: the build's apt-get uses the host's own resolver and routes, never a
        // resolver Docker would substitute for a loopback one.
        {
          t: request.tag,
          buildargs: request.buildArgs,
          labels: request.labels,
          networkmode: 'host',
          rm: true,
          forcerm: true,
        },
      ),
    );
    await this.follow(what, stream);
    if (request.stageLabel) {
      const { stageLabel } = request;
      await this.call(`remove the build stages of ${request.tag}`, () =>
        this.docker.pruneImages({ filters: { dangling: ['true'], label: [stageLabel] } }),
      );
    }
  }

  async importImage(tar: NodeJS.ReadableStream, ref: string): Promise<void> {
    const [repo, tag] = ref.split(':');
    const what = `import image ${ref}`;
    const stream = await this.call(what, () => this.docker.importImage(tar, { repo, tag }));
    await this.follow(what, stream);
  }

  async saveImage(ref: string): Promise<NodeJS.ReadableStream> {
    return this.call(`save image ${ref}`, () => this.docker.getImage(ref).get());
  }

  async loadImage(tar: NodeJS.ReadableStream): Promise<void> {
    const what = 'load images';
    const stream = await this.call(what, () => this.docker.loadImage(tar));
    await this.follow(what, stream);
  }

  /** Waits for a progress stream (pull, build, import) and fails with the engine's own last error line. */
  private async follow(what: string, stream: NodeJS.ReadableStream): Promise<void> {
    const events = await new Promise<
      Array<{ error?: string; errorDetail?: { message?: string }; stream?: string }>
    >((resolve, reject) =>
      this.docker.modem.followProgress(stream, (err, out) => (err ? reject(err) : resolve(out))),
    ).catch((error: unknown) => {
      throw this.wrap(what, error);
    });
    const failure = events.find((e) => e.error || e.errorDetail);
    if (failure) {
      const log = events
        .map((e) => e.stream ?? '')
        .join('')
        .trim()
        .split('\n')
        .slice(-15)
        .join('\n');
      throw new RuntimeError(
        `could not ${what}: ${failure.error ?? failure.errorDetail?.message}${log ? `\n${log}` : ''}`,
      );
    }
  }

  private async call<T>(what: string, fn: () => Promise<T>, okStatus: number[] = []): Promise<T> {
    try {
      await this.ready();
      return await fn();
    } catch (error) {
      if (okStatus.includes((error as { statusCode?: number }).statusCode ?? 0)) return undefined as T;
      throw this.wrap(what, error);
    }
  }

  private wrap(what: string, error: unknown): LabError {
    // A wrong DOCKER_HOST or context (engine.ts) is the user's to fix, as it says.
    if (error instanceof UsageError) return error;
    const e = error as { code?: string; statusCode?: number; json?: { message?: string }; message?: string };
    if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED' || e.code === 'EACCES') {
      return new EngineUnreachableError(
        `no Docker engine at ${this.engine().address} (${e.code}; found from ${this.engine().source})`,
        e.code === 'EACCES'
          ? 'run as root or as a member of the docker group'
          : 'start one (README: "Prerequisites"), or set DOCKER_HOST to reach another',
        { cause: error },
      );
    }
    const detail = (e.json?.message ?? e.message ?? String(error)).trim();
    // The engine's texts are translated here, and only here, into errors podlab acts on.
    if (/overlap/i.test(detail) && /network/i.test(what))
      return new SubnetTakenError(
        `could not ${what}: its subnet is taken: ${detail}`,
        'pick another cluster.nodeSubnet, or leave it out',
        { cause: error },
      );
    if (/port is already allocated|address already in use/i.test(detail) && /start container/i.test(what))
      return new HostPortTakenError(
        `could not ${what}: a host port it publishes is taken: ${detail}`,
        'free that port on the engine host, or publish the Service on another hostPort (lab status shows what each lab publishes)',
        { cause: error },
      );
    if (/active endpoints/i.test(detail))
      return new NetworkInUseError(`could not ${what}: ${detail}`, undefined, { cause: error });
    return new RuntimeError(`could not ${what}: ${detail}`, undefined, { cause: error });
  }
}

/** `Exited (1) 3 seconds ago` → `{exitCode: 1}`; nothing for a container that has not exited. */
export function exitCodeOf(status: string | undefined): { exitCode?: number } {
  const m = /^Exited \((-?\d+)\)/.exec(status ?? '');
  return m ? { exitCode: Number(m[1]) } : {};
}

function labelFilters(labels: Record<string, string>): string[] {
  return Object.entries(labels).map(([k, v]) => (v === '' ? k : `${k}=${v}`));
}

/** A non-TTY log buffer is framed (8-byte headers: stream, size); returns its text, both streams in order. */
function demux(buffer: Buffer): string {
  const parts: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(i + 4);
    parts.push(buffer.subarray(i + 8, i + 8 + size));
    i += 8 + size;
  }
  return i === 0 && buffer.length > 0 ? buffer.toString('utf8') : Buffer.concat(parts).toString('utf8');
}

function collect(into: Buffer[]): NodeJS.WritableStream {
  const sink = new PassThrough();
  sink.on('data', (chunk: Buffer) => into.push(chunk));
  return sink;
}

/**
 * The runtime commands use: the CLI's own engine (found as the docker CLI finds it), and every
 * engine of a lab that spans several (lab-runtime.ts), each reached as its topology says.
 */
export function defaultRuntime(): LabRuntime {
  return new LabRuntime(new DockerRuntime(), currentEngine().address, (config) => {
    const engine = engineFor(config);
    return { address: engine.address, runtime: DockerRuntime.forEngine(engine) };
  });
}

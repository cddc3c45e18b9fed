import { PassThrough } from 'node:stream';
import { parseEngineLabel } from '../config/engines.js';
import type { EngineConfig } from '../config/types.js';
import { RuntimeError } from '../errors.js';
import { Label } from '../labels.js';
import type { ContainerSpec, NetworkSpec } from '../plan/types.js';
import type {
  BuildRequest,
  ContainerInfo,
  EngineHandle,
  EngineInfo,
  ExecOptions,
  LogOptions,
  NetworkInfo,
  Runtime,
} from './runtime.js';

/** Connects to an engine of a topology: its address as the docker CLI writes it, and a runtime for it. */
export type Connect = (engine: EngineConfig) => { address: string; runtime: Runtime };

/**
 * The runtime of the commands: the CLI's own engine, and the engines of any lab that spans several
 * (DESIGN.md, "Several engines on one machine"). It routes each call to its engine: a container to the
 * engine its `io.podlab.engine` label names (unlabelled ones, short-lived helpers, to the lab's first
 * engine), an exec to the engine that holds the container, an overlay network to a swarm manager; a
 * listing gathers every engine's. It learns a lab's engines from the `io.podlab.engines` label on the
 * lab's objects, so that `status`, `test`, `exec` or `down` of a lab that spans engines reach all of
 * them without being told. Errors name the engine.
 */
export class LabRuntime implements Runtime {
  private readonly engines: EngineHandle[];
  /** Container names and IDs to the engine that holds them. */
  private readonly where = new Map<string, EngineHandle>();
  /** Network IDs to the engines that list them. */
  private readonly networks = new Map<string, EngineHandle[]>();
  /** Each lab's engines, in its order: from its topology (`useEngines`) or its objects' labels. */
  private readonly labs = new Map<string, EngineHandle[]>();
  /** The engines of the lab `useEngines` named last: where images go (empty: the CLI's own engine). */
  private current: EngineHandle[] = [];

  constructor(
    own: Runtime,
    ownAddress: string,
    private readonly connect: Connect,
  ) {
    this.engines = [{ name: '', address: ownAddress, runtime: own }];
  }

  /** The engines a lab's topology lists, connected (idempotent; an engine is known by its address). */
  useEngines(configs: EngineConfig[], lab: string): EngineHandle[] {
    const handles = this.connectAll(configs);
    if (handles.length) {
      // Engines named again for a lab that has some (down's --engine) are added after them.
      const had = this.labs.get(lab) ?? [];
      const all = [...had, ...handles.filter((h) => !had.includes(h))];
      this.labs.set(lab, all);
      this.current = all;
    }
    return handles;
  }

  private connectAll(configs: EngineConfig[]): EngineHandle[] {
    return configs.map((config) => {
      const { address, runtime } = this.connect(config);
      const known = this.engines.find((e) => e.address === address);
      if (known) {
        if (!known.name) known.name = config.name;
        return known;
      }
      const added = { name: config.name, address, runtime };
      this.engines.push(added);
      return added;
    });
  }

  /** Every engine this runtime reaches, the CLI's own first. */
  known(): readonly EngineHandle[] {
    return this.engines;
  }

  /**
   * A lab's engines (its first is where its network, records and helpers go); without a lab, those
   * `useEngines` named last; the CLI's own engine when neither is known.
   */
  labEngines(lab?: string): readonly EngineHandle[] {
    const engines = lab !== undefined ? this.labs.get(lab) : this.current;
    return engines?.length ? engines : this.current.length ? this.current : [this.engines[0]!];
  }

  private primary(lab?: string): EngineHandle {
    return this.labEngines(lab)[0]!;
  }

  /** Runs `fn` on an engine; its errors say which engine. */
  private async on<T>(engine: EngineHandle, fn: (r: Runtime) => Promise<T>): Promise<T> {
    try {
      return await fn(engine.runtime);
    } catch (error) {
      if (this.engines.length === 1 || !(error instanceof Error)) throw error;
      if (!error.message.startsWith('engine '))
        error.message = `engine ${engine.name || 'of the CLI'} (${engine.address}): ${error.message}`;
      throw error;
    }
  }

  /** Learns the engines a lab's objects name (their `io.podlab.engines` label). */
  private learn(labels: Record<string, string>[]): void {
    for (const l of labels) {
      const engines = parseEngineLabel(l[Label.engines]);
      const lab = l[Label.lab];
      if (engines.length && lab && !this.labs.has(lab)) this.labs.set(lab, this.connectAll(engines));
    }
  }

  /**
   * Asks every engine, and then every engine the answers name that this call has not asked yet (a
   * concurrent call may have learned of them meanwhile: each call keeps its own account).
   */
  private async everyEngine(
    gather: (engines: EngineHandle[]) => Promise<Record<string, string>[]>,
  ): Promise<void> {
    const asked = new Set<EngineHandle>();
    let next = [...this.engines];
    while (next.length) {
      for (const e of next) asked.add(e);
      this.learn(await gather(next));
      next = this.engines.filter((e) => !asked.has(e));
    }
  }

  private engineOf(spec: ContainerSpec): EngineHandle {
    const name = spec.labels[Label.engine];
    const lab = spec.labels[Label.lab];
    if (name === undefined) {
      // A helper in another container's namespaces (pod-localhost's probe) goes where that one is.
      const beside = spec.network.mode === 'container' ? spec.network.container : spec.pidContainer;
      return (beside !== undefined ? this.where.get(beside) : undefined) ?? this.primary(lab);
    }
    const engine = this.labEngines(lab).find((e) => e.name === name);
    if (!engine)
      throw new RuntimeError(
        `container ${spec.name} belongs on engine "${name}", which this lab does not list`,
        'list the engine under engines: in the topology',
      );
    return engine;
  }

  /** The engine that holds a container (by name or ID), found by asking every engine when unknown. */
  private async holder(container: string): Promise<EngineHandle> {
    const known = this.where.get(container);
    if (known) return known;
    if (this.engines.length === 1) return this.engines[0]!;
    await Promise.all(
      this.engines.map(async (e) => {
        for (const c of await this.on(e, (r) => r.listContainers({}))) {
          this.where.set(c.name, e);
          this.where.set(c.id, e);
        }
      }),
    );
    // None has it: the lab's first engine answers as an engine does (no such container).
    return this.where.get(container) ?? this.primary();
  }

  async version(): Promise<{ version: string; apiVersion: string }> {
    const all = await Promise.all(this.labEngines().map((e) => this.on(e, (r) => r.version())));
    return all[0]!;
  }

  info(): Promise<EngineInfo> {
    return this.on(this.primary(), (r) => r.info());
  }

  /** Each engine's info, to judge a swarm. */
  infos(
    engines: readonly EngineHandle[] = this.labEngines(),
  ): Promise<{ engine: EngineHandle; info?: EngineInfo; error?: string }[]> {
    return Promise.all(
      engines.map(async (engine) => {
        try {
          return { engine, info: await engine.runtime.info() };
        } catch (error) {
          return { engine, error: (error as Error).message.split('\n')[0] };
        }
      }),
    );
  }

  async listNetworks(labels?: Record<string, string>): Promise<NetworkInfo[]> {
    const seen = new Map<string, NetworkInfo>();
    const gather = async (engines: EngineHandle[]) => {
      const lists = await Promise.all(
        engines.map(async (e) => ({ e, list: await this.on(e, (r) => r.listNetworks(labels)) })),
      );
      for (const { e, list } of lists)
        for (const n of list) {
          seen.set(n.id, n);
          const holders = this.networks.get(n.id) ?? [];
          if (!holders.includes(e)) holders.push(e);
          this.networks.set(n.id, holders);
        }
      return lists.flatMap(({ list }) => list.map((n) => n.labels));
    };
    await this.everyEngine(gather);
    return [...seen.values()];
  }

  async createNetwork(spec: NetworkSpec): Promise<string> {
    const lab = spec.labels[Label.lab];
    let engine = this.primary(lab);
    if (spec.driver === 'overlay') {
      const managers = (await this.infos(this.labEngines(lab))).filter((i) => i.info?.swarm?.manager);
      if (!managers.length)
        throw new RuntimeError(
          `no engine of the lab is a swarm manager: the overlay network ${spec.name} needs one`,
        );
      engine = managers[0]!.engine;
    }
    const id = await this.on(engine, (r) => r.createNetwork(spec));
    this.networks.set(id, [engine]);
    return id;
  }

  async removeNetwork(id: string): Promise<void> {
    const holders = this.networks.get(id) ?? [this.primary()];
    // An overlay is removed through a manager; its error is the one that counts (active endpoints:
    // removeLab asks again).
    const infos = this.engines.length > 1 ? await this.infos(holders) : [];
    const manager = infos.find((i) => i.info?.swarm?.manager)?.engine;
    await this.on(manager ?? holders[0]!, (r) => r.removeNetwork(id));
    if (this.engines.length === 1) return;
    // The swarm takes its copies off the other engines a moment later, and an engine may go on
    // listing one it no longer has until asked to remove it: gone means gone from every engine.
    for (let i = 0; i < 150; i++) {
      const still = (
        await Promise.all(
          this.engines.map(async (e) =>
            (await e.runtime.listNetworks().catch(() => [])).some((n) => n.id === id) ? e : undefined,
          ),
        )
      ).filter((e) => e !== undefined);
      if (still.length === 0) return;
      if (i === 149)
        throw new RuntimeError(
          `network ${id} was removed, yet engine ${still.map((e) => e.name || e.address).join(', ')} still lists it after 30 s`,
          'run lab down again; docker network rm on that engine removes it by hand',
        );
      await Promise.all(still.map((e) => e.runtime.removeNetwork(id).catch(() => {})));
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async listContainers(labels: Record<string, string>): Promise<ContainerInfo[]> {
    const out: ContainerInfo[] = [];
    const gather = async (engines: EngineHandle[]) => {
      const lists = await Promise.all(
        engines.map(async (e) => ({ e, list: await this.on(e, (r) => r.listContainers(labels)) })),
      );
      for (const { e, list } of lists)
        for (const c of list) {
          this.where.set(c.name, e);
          this.where.set(c.id, e);
          out.push(this.engines.length > 1 || e.name ? { ...c, engine: e.name } : c);
        }
      return lists.flatMap(({ list }) => list.map((c) => c.labels));
    };
    await this.everyEngine(gather);
    return out;
  }

  async runContainer(spec: ContainerSpec): Promise<string> {
    const engine = this.engineOf(spec);
    const id = await this.on(engine, (r) => r.runContainer(spec));
    this.where.set(spec.name, engine);
    this.where.set(id, engine);
    return id;
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    const engine = this.engineOf(spec);
    const id = await this.on(engine, (r) => r.createContainer(spec));
    this.where.set(spec.name, engine);
    this.where.set(id, engine);
    return id;
  }

  async removeContainer(id: string): Promise<void> {
    const engine = await this.holder(id);
    await this.on(engine, (r) => r.removeContainer(id));
  }

  async exec(container: string, cmd: string[], options?: ExecOptions) {
    const engine = await this.holder(container);
    return this.on(engine, (r) => r.exec(container, cmd, options));
  }

  async wait(container: string): Promise<number> {
    const engine = await this.holder(container);
    return this.on(engine, (r) => r.wait(container));
  }

  async logs(container: string, options?: LogOptions): Promise<string> {
    const engine = await this.holder(container);
    return this.on(engine, (r) => r.logs(container, options));
  }

  /**
   * Whether every engine of the lab has the image. One that lacks it gets it copied (docker save, then
   * docker load) from an engine that has it, the CLI's own included: an image built or pulled once is
   * present everywhere, and a user's local image too.
   */
  async hasImage(ref: string): Promise<boolean> {
    const engines = this.labEngines();
    const have = await Promise.all(engines.map((e) => this.on(e, (r) => r.hasImage(ref))));
    if (have.every(Boolean)) return true;
    const sources = [
      ...engines.filter((_, i) => have[i]),
      ...this.engines.filter((e) => !engines.includes(e)),
    ];
    for (const source of sources) {
      if (!engines.includes(source) && !(await this.on(source, (r) => r.hasImage(ref)))) continue;
      await this.copyImage(
        ref,
        source,
        engines.filter((_, i) => !have[i]),
      );
      return true;
    }
    return false;
  }

  /** Copies an image from one engine to others: one `docker save`, a `docker load` on each, concurrently. */
  async copyImage(ref: string, from: EngineHandle, to: readonly EngineHandle[]): Promise<void> {
    if (to.length === 0) return;
    const tar = await this.on(from, (r) => r.saveImage(ref));
    const branches = to.map(() => new PassThrough({ highWaterMark: 1 << 22 }));
    tar.on('data', (chunk: Buffer) => {
      for (const b of branches) b.write(chunk);
    });
    tar.on('end', () => {
      for (const b of branches) b.end();
    });
    tar.on('error', (error: Error) => {
      for (const b of branches) b.destroy(error);
    });
    await Promise.all(to.map((engine, i) => this.on(engine, (r) => r.loadImage(branches[i]!))));
  }

  async pullImage(ref: string): Promise<void> {
    const engines = this.labEngines();
    await Promise.all(
      engines.map(async (e) => {
        if (!(await this.on(e, (r) => r.hasImage(ref)))) await this.on(e, (r) => r.pullImage(ref));
      }),
    );
  }

  /** Builds on the lab's first engine, then copies the result to the others. */
  async buildImage(request: BuildRequest): Promise<void> {
    const [first, ...rest] = this.labEngines();
    await this.on(first!, (r) => r.buildImage(request));
    await this.copyImage(request.tag, first!, rest);
  }

  async importImage(tar: NodeJS.ReadableStream, ref: string): Promise<void> {
    const [first, ...rest] = this.labEngines();
    await this.on(first!, (r) => r.importImage(tar, ref));
    await this.copyImage(ref, first!, rest);
  }

  saveImage(ref: string): Promise<NodeJS.ReadableStream> {
    return this.on(this.primary(), (r) => r.saveImage(ref));
  }

  async loadImage(tar: NodeJS.ReadableStream): Promise<void> {
    await this.on(this.primary(), (r) => r.loadImage(tar));
  }
}

import { Writable } from 'node:stream';
import type { PullMode } from '../apply/actions.js';
import { upHost } from '../apply/prepare.js';
import { removeLab } from '../apply/remove.js';
import { prepareEngines } from '../apply/swarm.js';
import { type UpOutcome, type UpRun, upLab } from '../apply/up.js';
import { type Clock, systemClock } from '../clock.js';
import { recordTopology } from '../config/canonical.js';
import { loadTopology, parseTopology } from '../config/load.js';
import type { Topology } from '../config/types.js';
import { conformanceRun } from '../conformance/conformance.js';
import { renderJson } from '../conformance/report.js';
import { LabStateError, UsageError } from '../errors.js';
import { preflight } from '../host/doctor.js';
import { type Host, localHost } from '../host/host.js';
import type { Io } from '../io.js';
import type { LabPlan } from '../plan/types.js';
import { defaultRuntime } from '../runtime/docker-runtime.js';
import type { Runtime } from '../runtime/runtime.js';
import { observeLab } from '../state/observe.js';
import { labContainersOf, resolveTarget } from '../state/targets.js';
import { notUpJson, statusJson } from './status.js';

/** How long `Lab.up` (like `lab up`) waits for another `up` of the same lab to finish. */
export const lockWaitMs = 10 * 60_000;

/** What every Lab method works with; injected by the CLI and by tests, defaulted for API users. */
export interface LabDeps {
  runtime: Runtime;
  host: Host;
  clock: Clock;
}

export interface LabUpOptions {
  /** A topology file. */
  file?: string;
  /** A topology as an object (the file's content, parsed); relative paths in it are taken from `cwd`. */
  topology?: Record<string, unknown>;
  /** Another name for the lab than the topology's (so that tests never meet a user's labs). */
  name?: string;
  /** Progress lines as `lab up` prints them in CI; none unless asked for. */
  onProgress?: (line: string) => void;
  /** Keep what was created when up fails. */
  retain?: boolean;
  /** Overrides every container's imagePullPolicy. */
  pull?: PullMode;
  /** Stops a running up, which then rolls back. */
  signal?: AbortSignal;
  cwd?: string;
  deps?: Partial<LabDeps>;
}

/** What `exec` returns: the command's output and exit code. */
export interface ExecOutput {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** The JSON reporter's shape (`lab test --reporter json`). */
export type TestReport = ReturnType<typeof parseReport>;
/** The `lab status --json` shape. */
export type LabStatus = ReturnType<typeof statusJson>;

function parseReport(text: string) {
  return JSON.parse(text) as {
    lab: string;
    checks: {
      id: string;
      rule: string;
      status: 'passed' | 'failed' | 'skipped' | 'uncertain';
      expected: string;
      seen: string;
      evidence: string[];
      hint?: string;
      durationMs: number;
    }[];
    passed: number;
    failed: number;
    skipped: number;
    uncertain: number;
    timings?: Record<string, number>;
  };
}

function defaults(deps: Partial<LabDeps> = {}): LabDeps {
  return {
    runtime: deps.runtime ?? defaultRuntime(),
    host: deps.host ?? localHost(),
    clock: deps.clock ?? systemClock,
  };
}

/** A writable stream that hands each complete line to `onLine`. */
function lines(onLine: (line: string) => void): Writable {
  let rest = '';
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      const text = rest + chunk.toString();
      const parts = text.split('\n');
      rest = parts.pop() ?? '';
      for (const line of parts) if (line.trim()) onLine(line);
      done();
    },
  });
}

/** The topology `Lab.up` means: an object, a file, else ./lab.yaml in `cwd`, renamed when asked. */
async function topologyOf(options: LabUpOptions): Promise<Topology> {
  if (options.file && options.topology) throw new UsageError('give Lab.up a file or a topology, not both');
  const cwd = options.cwd ?? process.cwd();
  const loaded = options.topology
    ? parseTopology(JSON.stringify(options.topology), `${cwd}/(topology)`)
    : await loadTopology(options.file ?? `${cwd}/lab.yaml`);
  if (!options.name) return loaded.topology;
  // Renamed, then validated again: the new name obeys the rules the file's name does.
  return parseTopology(
    recordTopology({ ...loaded.topology, name: options.name }),
    `${cwd}/(name: ${options.name})`,
  ).topology;
}

/**
 * A lab, for the user's own tests and pipelines: brought up, used, and removed again when disposed.
 *
 * ```ts
 * await using lab = await Lab.up({ file: 'lab.yaml' });
 * const r = await lab.exec('bar/client', ['curl', '-s', 'foo']);
 * ```
 * Errors are the CLI's (same messages; `code` is the exit code `lab` would give).
 */
export class Lab implements AsyncDisposable {
  private constructor(
    /** The lab's name. */
    readonly name: string,
    private readonly deps: LabDeps,
    /** Whether disposing of this object removes the lab (true for `up`, false for `attach`). */
    readonly owned: boolean,
    /** The plan `up` created the lab from; undefined when the lab was up to date already. */
    readonly created?: LabPlan,
  ) {}

  /**
   * Brings a lab up (or finds it up to date), as `lab up` does, under the lab's lock: a second `up`
   * of the same lab waits for the first. Its disposal removes it.
   */
  static async up(options: LabUpOptions = {}): Promise<Lab> {
    const deps = defaults(options.deps);
    const topology = await topologyOf(options);
    return Lab.upTopology(topology, options, deps);
  }

  /** `up` of a loaded topology; the CLI's `lab up` comes here, with its own output and signals. */
  static async upTopology(
    topology: Topology,
    options: Omit<LabUpOptions, 'file' | 'topology' | 'name' | 'deps'> & {
      io?: Io;
      onInterrupt?: () => void;
      instrument?: UpRun['instrument'];
    },
    deps: LabDeps,
  ): Promise<Lab> {
    await deps.runtime.version();
    const progress = options.onProgress ? lines(options.onProgress) : undefined;
    const io: Io = options.io ?? {
      out: () => {},
      err: (text) => options.onProgress?.(text),
      interactive: false,
      quiet: !progress,
      ...(progress ? { progress } : {}),
    };
    const lock = await deps.host.lock(`lab-${topology.name}`, {
      waitMs: lockWaitMs,
      onWait: () => io.err(`another lab up of ${topology.name} is running; waiting for it to finish`),
      ...(options.onInterrupt ? { onInterrupt: options.onInterrupt } : {}),
    });
    let outcome: UpOutcome;
    try {
      // The lab's engines first: the engine host read next is its first engine's.
      await prepareEngines(deps.runtime, topology);
      const host = await upHost(deps.host, deps.runtime, io.err);
      await preflight(host);
      outcome = await upLab({ ...deps, host, io }, topology, {
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.retain ? { retain: true } : {}),
        ...(options.pull ? { pull: options.pull } : {}),
        ...(options.instrument ? { instrument: options.instrument } : {}),
      });
    } finally {
      await lock.release();
    }
    return new Lab(
      topology.name,
      deps,
      true,
      outcome.kind === 'created' || outcome.kind === 'changed' ? outcome.plan : undefined,
    );
  }

  /** A lab that is up already, without owning it: its disposal leaves the lab as it is. */
  static async attach(name: string, options: { deps?: Partial<LabDeps> } = {}): Promise<Lab> {
    const deps = defaults(options.deps);
    if (!(await observeLab(deps.runtime, name, { podIPs: false })))
      throw new LabStateError(`lab ${name} is not up`, 'start it with lab up, or see lab ls');
    return new Lab(name, deps, false);
  }

  /** Runs a command in a node (NODE), a pod (NS/POD) or one of its containers (NS/POD/CONTAINER). */
  async exec(target: string, command: string[]): Promise<ExecOutput> {
    const containers = await labContainersOf(this.deps.runtime, this.name);
    const container = resolveTarget(containers, target, this.name);
    const r = await this.deps.runtime.exec(container.name, command);
    return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode };
  }

  /**
   * A URL of a Service that the caller can reach: its published host port (hostPort, on the engine
   * host), else its NodePort on the first node's IP (a ClusterIP lives only inside the lab). `port`: the Service port's name or number (default its first).
   */
  async serviceUrl(service: string, port?: string | number): Promise<string> {
    const state = await this.state();
    const svc = state.services.find((s) => s.key === service);
    if (!svc)
      throw new UsageError(
        `lab ${this.name} has no Service ${service}`,
        `its Services: ${state.services.map((s) => s.key).join(', ') || 'none'}`,
      );
    const p = port === undefined ? svc.ports[0] : svc.ports.find((x) => x.name === port || x.port === port);
    if (!p) throw new UsageError(`Service ${service} has no port ${port}`);
    // A published host port reaches it from the engine host (Docker Desktop forwards it to the laptop).
    if (p.hostPort !== undefined)
      return `http://${p.hostIP === '0.0.0.0' ? '127.0.0.1' : p.hostIP}:${p.hostPort}/`;
    const node = state.nodes.find((n) => n.state === 'running');
    if (p.nodePort === undefined || !node)
      throw new UsageError(
        `Service ${service} port ${p.port} has neither a hostPort nor a NodePort, so nothing outside the lab reaches it`,
        'give the port a hostPort (reachable on the engine host), or make it type: NodePort, or reach its ClusterIP from inside the lab with lab.exec',
      );
    return `http://${node.ip}:${p.nodePort}/`;
  }

  /** Runs the conformance checks (all, or `only`); the JSON reporter's shape. */
  async test(options: { only?: string[]; exhaustive?: boolean } = {}): Promise<TestReport> {
    const run = await conformanceRun(this.deps, this.name, options.only, undefined, {
      ...(options.exhaustive ? { exhaustive: true } : {}),
    });
    return parseReport(renderJson(this.name, run.results, run.timings));
  }

  /** The lab as the engine has it: the `lab status --json` shape (`up: false` when it is gone). */
  async status(): Promise<LabStatus | ReturnType<typeof notUpJson>> {
    const state = await observeLab(this.deps.runtime, this.name);
    return state ? statusJson(state) : notUpJson(this.name, `lab ${this.name} is not up`);
  }

  /** Removes everything of the lab (what `lab down` does); waits for a running `up` of it first. */
  async down(): Promise<void> {
    const lock = await this.deps.host.lock(`lab-${this.name}`, { waitMs: lockWaitMs });
    try {
      await removeLab(this.deps.runtime, this.name, this.deps.clock);
    } finally {
      await lock.release();
    }
  }

  /** Disposal: removes the lab when this object brought it up (not when it attached to it). */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.owned) await this.down();
  }

  private async state() {
    const state = await observeLab(this.deps.runtime, this.name, { podIPs: false });
    if (!state) throw new LabStateError(`lab ${this.name} is not up`, 'start it with lab up');
    return state;
  }
}

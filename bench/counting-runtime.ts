import type { ContainerSpec, NetworkSpec } from '../src/plan/types.js';
import type { BuildRequest, ExecOptions, LogOptions, Runtime } from '../src/runtime/runtime.js';

/** Engine calls and execs, per phase of `up`. */
export interface Counts {
  calls: Record<string, number>;
  execs: Record<string, number>;
}

/** Wraps a Runtime and counts every call (and every exec) against the phase that is running. */
export class CountingRuntime implements Runtime {
  phase = 'other';
  readonly counts: Counts = { calls: {}, execs: {} };

  /** The inner runtime's, when it reaches several engines (engines are joined, not counted). */
  readonly useEngines?: Runtime['useEngines'];

  constructor(private readonly inner: Runtime) {
    if (inner.useEngines) this.useEngines = (engines, lab) => inner.useEngines!(engines, lab);
  }

  private count<T>(result: Promise<T>, exec = false): Promise<T> {
    this.counts.calls[this.phase] = (this.counts.calls[this.phase] ?? 0) + 1;
    if (exec) this.counts.execs[this.phase] = (this.counts.execs[this.phase] ?? 0) + 1;
    return result;
  }

  version() {
    return this.count(this.inner.version());
  }
  info() {
    return this.count(this.inner.info());
  }
  listNetworks(labels?: Record<string, string>) {
    return this.count(this.inner.listNetworks(labels));
  }
  createNetwork(spec: NetworkSpec) {
    return this.count(this.inner.createNetwork(spec));
  }
  removeNetwork(id: string) {
    return this.count(this.inner.removeNetwork(id));
  }
  listContainers(labels: Record<string, string>) {
    return this.count(this.inner.listContainers(labels));
  }
  runContainer(spec: ContainerSpec) {
    return this.count(this.inner.runContainer(spec));
  }
  createContainer(spec: ContainerSpec) {
    return this.count(this.inner.createContainer(spec));
  }
  removeContainer(id: string) {
    return this.count(this.inner.removeContainer(id));
  }
  exec(container: string, cmd: string[], options?: ExecOptions) {
    return this.count(this.inner.exec(container, cmd, options), true);
  }
  wait(container: string) {
    return this.count(this.inner.wait(container));
  }
  logs(container: string, options?: LogOptions) {
    return this.count(this.inner.logs(container, options));
  }
  hasImage(ref: string) {
    return this.count(this.inner.hasImage(ref));
  }
  pullImage(ref: string) {
    return this.count(this.inner.pullImage(ref));
  }
  buildImage(request: BuildRequest) {
    return this.count(this.inner.buildImage(request));
  }
  importImage(tar: NodeJS.ReadableStream, ref: string) {
    return this.count(this.inner.importImage(tar, ref));
  }
  saveImage(ref: string) {
    return this.count(this.inner.saveImage(ref));
  }
  loadImage(tar: NodeJS.ReadableStream) {
    return this.count(this.inner.loadImage(tar));
  }
}

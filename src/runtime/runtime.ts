import type { EngineConfig } from '../config/types.js';
import type { ContainerSpec, NetworkSpec } from '../plan/types.js';

/** The engine facts `lab doctor` looks at. */
export interface EngineInfo {
  operatingSystem: string;
  securityOptions: string[];
  kernelVersion: string;
  /** Its Docker Swarm membership (absent: the engine did not say). */
  swarm?: SwarmInfo;
}

/** What an engine says of its place in a Docker Swarm. */
export interface SwarmInfo {
  /** `inactive`, `pending`, `active`, `error`, `locked`. */
  state: string;
  /** Whether it is a manager (overlay networks are created through one). */
  manager: boolean;
  /** The swarm's cluster ID (managers report it); '' when unknown. */
  clusterId: string;
  /** Its node ID in the swarm ('' outside one). */
  nodeId: string;
  /** The address it advertises to the swarm. */
  address: string;
  /** The managers it knows (`address:2377`), which workers report too. */
  managers: string[];
}

/** A Docker network as the engine reports it. */
export interface NetworkInfo {
  id: string;
  name: string;
  subnets: string[];
  labels: Record<string, string>;
}

/** A container as the engine reports it. */
export interface ContainerInfo {
  id: string;
  name: string;
  /** `running`, `exited`, `created`, … */
  state: string;
  /** The exit code of a container that has exited. */
  exitCode?: number;
  image: string;
  labels: Record<string, string>;
  /** Address per network name. */
  ips: Record<string, string>;
  /** Ports it publishes on the engine host. */
  published?: { hostIP: string; hostPort: number; protocol: 'TCP' | 'UDP' }[];
  /** The engine that holds it, when the runtime reaches several (a lab's `engines` name). */
  engine?: string;
}

/** Where a streaming exec sends its output as it comes. */
export interface ExecSinks {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export interface ExecOptions {
  env?: Record<string, string>;
  /** Stream output here instead of collecting it. */
  sinks?: ExecSinks;
  /** Bytes to send to the command's standard input. */
  stdin?: NodeJS.ReadableStream;
  /** Run the command on a terminal (output then comes on stdout alone, as from `docker exec -t`). */
  tty?: TtyOptions;
}

/** A terminal's size in characters. */
export interface TerminalSize {
  columns: number;
  rows: number;
}

/** The terminal an exec gets: its size, and how to learn when the local one is resized. */
export interface TtyOptions {
  size?: TerminalSize;
  /** Registers a listener for size changes; returns what unregisters it. */
  onResize?(listener: (size: TerminalSize) => void): () => void;
}

/** What `logs` reads: the last `tail` lines, those since `since` (Unix seconds); `sinks`: follow. */
export interface LogOptions {
  tail?: number;
  since?: number;
  /** Follow the output into these streams until the container stops or `signal` aborts. */
  sinks?: ExecSinks;
  signal?: AbortSignal;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** What `buildImage` needs: a folder, the files of it to send, and the tag. */
export interface BuildRequest {
  context: string;
  files: string[];
  tag: string;
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  /**
   * The label (`key=value`) of the Dockerfile's intermediate stages: their untagged images are
   * removed after the build, so a multi-stage build leaves only its result behind.
   */
  stageLabel?: string;
}

/**
 * Everything podlab asks of a container engine. Kept small on purpose (kind's Provider has eight
 * methods); only docker-runtime.ts implements it against a real engine.
 */
export interface Runtime {
  /** Engine version; fails with a RuntimeError that says how to start one when none answers. */
  version(): Promise<{ version: string; apiVersion: string }>;
  /** What kind of engine this is, for `lab doctor`. */
  info(): Promise<EngineInfo>;
  listNetworks(labels?: Record<string, string>): Promise<NetworkInfo[]>;
  createNetwork(spec: NetworkSpec): Promise<string>;
  removeNetwork(id: string): Promise<void>;
  /** Every container (running or not) that carries all the given labels (value '' matches any value). */
  listContainers(labels: Record<string, string>): Promise<ContainerInfo[]>;
  /** Creates and starts a container; returns its ID. */
  runContainer(spec: ContainerSpec): Promise<string>;
  /** Creates a container without starting it (a lab's record: only its labels matter). */
  createContainer(spec: ContainerSpec): Promise<string>;
  /** Removes a container whatever its state; a missing one is not an error. */
  removeContainer(id: string): Promise<void>;
  exec(container: string, cmd: string[], options?: ExecOptions): Promise<ExecResult>;
  /** Waits until a container stops; its exit code. */
  wait(container: string): Promise<number>;
  /** A container's output (stdout and stderr), as `docker logs` gives it. */
  logs(container: string, options?: LogOptions): Promise<string>;
  hasImage(ref: string): Promise<boolean>;
  pullImage(ref: string): Promise<void>;
  buildImage(request: BuildRequest): Promise<void>;
  importImage(tar: NodeJS.ReadableStream, ref: string): Promise<void>;
  /** An image as `docker save` writes it. */
  saveImage(ref: string): Promise<NodeJS.ReadableStream>;
  /** Loads images from a `docker save` stream (`docker load`). */
  loadImage(tar: NodeJS.ReadableStream): Promise<void>;
  /**
   * Connects the engines a lab's topology lists (lab-runtime.ts); a runtime that reaches one engine
   * has none, and a lab that spans engines needs one that does.
   */
  useEngines?(engines: EngineConfig[], lab: string): EngineHandle[];
}

/** One engine a runtime that spans several reaches: its name in the lab, its address, its own runtime. */
export interface EngineHandle {
  name: string;
  address: string;
  runtime: Runtime;
}

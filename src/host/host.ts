import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { promisify } from 'node:util';
import { type Clock, systemClock } from '../clock.js';
import { currentEngine } from '../runtime/engine.js';
import type { NetworkInfo, Runtime } from '../runtime/runtime.js';
import { acquireLock, type Lock, type LockOptions } from './lock.js';
import { parseProcRoutes } from './routes.js';

/**
 * The machine podlab runs on, as far as podlab looks at it: its routes, its kernel settings, its
 * tools and its locks. Injected (CommandContext.host), so that unit tests never read the real one.
 */
export interface Host {
  /** The host's IPv4 routes as CIDRs (the default route left out). */
  routes(): Promise<string[]>;
  /** A file's text (a /proc or /sys setting), trimmed; undefined when it cannot be read. */
  read(path: string): Promise<string | undefined>;
  /** A command's combined output; undefined when it is missing or fails. */
  run(file: string, args: string[]): Promise<string | undefined>;
  /**
   * Whether podlab reads the engine host by reading this machine: the engine runs here and this
   * process is in the host's network namespace (it has the routes of the engine's networks).
   * Otherwise engine-side.ts reads it through a helper container.
   */
  sharesEngineNetwork(runtime: Runtime): Promise<boolean>;
  /** Where routes, files and commands are read, for messages (absent: this machine). */
  where?: string;
  /** A lock named `name` held by this process until released (see lock.ts). */
  lock(name: string, options: LockOptions): Promise<Lock>;
  /** Who runs podlab here, as `user@host`: recorded on the labs they make. */
  owner(): string;
}

/** The machine this process runs on. */
export function localHost(clock: Clock = systemClock): Host {
  const read = async (path: string) => {
    try {
      return (await readFile(path, 'utf8')).trim();
    } catch {
      return undefined;
    }
  };
  return {
    routes: async () => parseProcRoutes((await read('/proc/net/route')) ?? ''),
    read,
    async run(file, args) {
      try {
        const { stdout, stderr } = await promisify(execFile)(file, args, { timeout: 5000 });
        return (stdout + stderr).trim();
      } catch {
        return undefined;
      }
    },
    async sharesEngineNetwork(runtime) {
      if (currentEngine().kind !== 'unix') return false;
      const [routes, networks] = await Promise.all([
        parseProcRoutes((await read('/proc/net/route')) ?? ''),
        runtime.listNetworks(),
      ]);
      return sharesNetwork(routes, networks);
    },
    lock: (name, options) => acquireLock(name, options, clock),
    owner: () => `${userInfo().username}@${hostname()}`,
  };
}

/**
 * Whether these routes are those of the engine host: it routes to the subnets of the engine's own
 * networks (docker0's and the labs'), which no other namespace does.
 */
export function sharesNetwork(routes: string[], networks: Pick<NetworkInfo, 'subnets'>[]): boolean {
  const have = new Set(routes);
  return networks.some((n) => n.subnets.some((s) => have.has(s)));
}

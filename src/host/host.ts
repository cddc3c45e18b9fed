import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { promisify } from 'node:util';
import { type Clock, systemClock } from '../clock.js';
import { engineAddress } from '../runtime/docker-runtime.js';
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
  /** Whether the engine runs on this machine, so that its kernel is this host's. */
  engineIsLocal(): boolean;
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
    engineIsLocal() {
      const address = engineAddress();
      return address.startsWith('/') || address.startsWith('unix://');
    },
    lock: (name, options) => acquireLock(name, options, clock),
    owner: () => `${userInfo().username}@${hostname()}`,
  };
}

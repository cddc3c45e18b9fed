import type { Clock } from '../../src/clock.js';
import { LabStateError } from '../../src/errors.js';
import type { Host } from '../../src/host/host.js';
import type { Lock, LockOptions } from '../../src/host/lock.js';

/**
 * A host that unit tests control: its routes, its /proc and /sys files and its commands are what the
 * test says (by default a healthy machine with no routes: br_netfilter loaded, every capability), and
 * locks live in memory. Nothing reaches the real host.
 */
export class FakeHost implements Host {
  routeList: string[] = [];
  files = new Map<string, string>([
    ['/proc/sys/net/bridge/bridge-nf-call-iptables', '1'],
    ['/proc/self/status', 'Name:\tnode\nCapBnd:\t000001ffffffffff'],
  ]);
  commands = new Map<string, string>();
  local = true;
  private readonly held = new Map<string, { onInterrupt?: () => void; released: Promise<void> }>();

  async routes(): Promise<string[]> {
    return [...this.routeList];
  }
  async read(path: string): Promise<string | undefined> {
    return this.files.get(path);
  }
  async run(file: string, args: string[]): Promise<string | undefined> {
    return this.commands.get([file, ...args].join(' '));
  }
  async sharesEngineNetwork(): Promise<boolean> {
    return this.local;
  }
  user = 'student@classroom';
  owner(): string {
    return this.user;
  }
  /**
   * In-memory locks. A waiter waits for the holder's release (not a clock: the fake clock's sleeps
   * return at once); `waitMs: 0` fails at once, as the real lock does.
   */
  async lock(name: string, options: LockOptions): Promise<Lock> {
    let told = false;
    for (;;) {
      const holder = this.held.get(name);
      if (!holder) {
        let release!: () => void;
        const released = new Promise<void>((r) => {
          release = r;
        });
        this.held.set(name, {
          ...(options.onInterrupt ? { onInterrupt: options.onInterrupt } : {}),
          released,
        });
        return {
          release: async () => {
            this.held.delete(name);
            release();
          },
        };
      }
      if (options.waitMs <= 0) throw new LabStateError(`${name} is still held by another podlab process`);
      if (!told) {
        options.onWait?.();
        if (options.interrupt) holder.onInterrupt?.();
        told = true;
      }
      await holder.released;
    }
  }
}

/** A clock whose sleeps return at once, advancing its time by what was asked. */
export function fakeClock(): Clock & { advanced: number } {
  const clock = {
    advanced: 0,
    now: () => clock.advanced,
    sleep: async (ms: number) => {
      clock.advanced += ms;
      await new Promise((r) => setImmediate(r));
    },
  };
  return clock;
}

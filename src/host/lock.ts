import { connect, createServer, type Server } from 'node:net';
import type { Clock } from '../clock.js';
import { LabStateError } from '../errors.js';

/**
 * A lock held by this process: an abstract Unix socket (Linux), which the kernel removes when the
 * holder exits, however it exits. So there is never a stale lock file to clean up. The socket also
 * carries one request to the holder: "interrupt" (`lab down --force` during a running `up`).
 */
export interface Lock {
  release(): Promise<void>;
}

export interface LockOptions {
  /** How long to wait for the holder to let go. */
  waitMs: number;
  /** Called once when the lock is taken and this process starts waiting. */
  onWait?: () => void;
  pollMs?: number;
  /** Ask the holder to stop (it rolls back and lets go) instead of waiting for it to finish. */
  interrupt?: boolean;
  /** While this process holds the lock: another process asked it to stop. */
  onInterrupt?: () => void;
}

const socketPath = (name: string) => `\0podlab-${name}`;

function tryListen(name: string, onInterrupt: (() => void) | undefined): Promise<Server | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', (data) => {
        const asked = data.toString().trim() === 'interrupt';
        if (asked) onInterrupt?.();
        socket.end(asked && onInterrupt ? 'stopping\n' : 'busy\n');
      });
    });
    server.once('error', (error: NodeJS.ErrnoException) =>
      error.code === 'EADDRINUSE' ? resolve(undefined) : reject(error),
    );
    server.listen({ path: socketPath(name), exclusive: true }, () => {
      server.unref();
      resolve(server);
    });
  });
}

/** Asks the holder of a lock to stop; resolves with its answer ('' when none came). */
function askToStop(name: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ path: socketPath(name) });
    let answer = '';
    socket.on('data', (d) => {
      answer += d.toString();
    });
    socket.on('error', () => resolve(''));
    socket.on('close', () => resolve(answer.trim()));
    socket.setTimeout(5000, () => socket.destroy());
    socket.end('interrupt\n');
  });
}

/**
 * Takes the named lock, waiting up to `waitMs` for its holder to finish (calling `onWait` once), or
 * with `interrupt` first asking the holder to stop. Fails with a LabStateError that names the lock
 * when it stays taken.
 */
export async function acquireLock(name: string, options: LockOptions, clock: Clock): Promise<Lock> {
  const { waitMs, onWait, pollMs = 200, interrupt = false, onInterrupt } = options;
  const deadline = clock.now() + waitMs;
  let told = false;
  for (;;) {
    const server = await tryListen(name, onInterrupt);
    if (server) return { release: () => new Promise((resolve) => server.close(() => resolve())) };
    if (clock.now() >= deadline) {
      throw new LabStateError(
        `${name} is still held by another podlab process after ${Math.round(waitMs / 1000)} s`,
        'wait for it to finish, or stop it (lab down NAME cleans up after it)',
      );
    }
    if (!told) {
      onWait?.();
      if (interrupt) await askToStop(name);
      told = true;
    }
    await clock.sleep(pollMs);
  }
}

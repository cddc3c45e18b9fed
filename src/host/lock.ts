import { createServer, type Server } from 'node:net';
import { LabStateError } from '../errors.js';

/**
 * A lock held by this process: an abstract Unix socket (Linux), which the kernel removes when the
 * holder exits, however it exits. So there is never a stale lock file to clean up.
 */
export interface Lock {
  release(): Promise<void>;
}

function tryListen(name: string): Promise<Server | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) =>
      error.code === 'EADDRINUSE' ? resolve(undefined) : reject(error),
    );
    server.listen({ path: `\0podlab-${name}`, exclusive: true }, () => {
      server.unref();
      resolve(server);
    });
  });
}

/**
 * Takes the named lock, waiting up to `waitMs` for its holder to finish (calling `onWait` once).
 * Fails with a LabStateError that names the lock when it stays taken.
 */
export async function acquireLock(
  name: string,
  { waitMs, onWait, pollMs = 200 }: { waitMs: number; onWait?: () => void; pollMs?: number },
): Promise<Lock> {
  const deadline = Date.now() + waitMs;
  let told = false;
  for (;;) {
    const server = await tryListen(name);
    if (server) return { release: () => new Promise((resolve) => server.close(() => resolve())) };
    if (Date.now() >= deadline) {
      throw new LabStateError(
        `${name} is still held by another podlab process after ${Math.round(waitMs / 1000)} s`,
        'wait for it to finish, or stop it (lab down NAME cleans up after it)',
      );
    }
    if (!told) {
      onWait?.();
      told = true;
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

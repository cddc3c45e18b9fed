import { spawn } from 'node:child_process';
import test from 'ava';
import { systemClock } from '../../src/clock.js';
import { LabStateError } from '../../src/errors.js';
import { type LockOptions, acquireLock as take } from '../../src/host/lock.js';

// The real lock, an abstract Unix socket of this host (unit tests use FakeHost's locks).
const acquireLock = (name: string, options: LockOptions) => take(name, options, systemClock);

test('a lock is exclusive, waits for its holder, and is free once released', async (t) => {
  const name = `test-lock-${process.pid}-a`;
  const first = await acquireLock(name, { waitMs: 0 });
  let waited = false;
  await t.throwsAsync(acquireLock(name, { waitMs: 300, pollMs: 50, onWait: () => (waited = true) }), {
    instanceOf: LabStateError,
    message: /still held/,
  });
  t.true(waited);
  setTimeout(() => void first.release(), 200);
  const second = await acquireLock(name, { waitMs: 3000, pollMs: 50 });
  await second.release();
});

test('a lock is released when its holder is killed with SIGKILL: nothing stale is left', async (t) => {
  const name = `test-lock-${process.pid}-b`;
  const holder = spawn(process.execPath, [
    '--input-type=module',
    '-e',
    `const { acquireLock } = await import(${JSON.stringify(new URL('../../src/host/lock.js', import.meta.url).href)});
     const { systemClock } = await import(${JSON.stringify(new URL('../../src/clock.js', import.meta.url).href)});
     await acquireLock(${JSON.stringify(name)}, { waitMs: 0 }, systemClock); console.log('held'); setInterval(() => {}, 1000);`,
  ]);
  await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
  await t.throwsAsync(acquireLock(name, { waitMs: 0 }));
  holder.kill('SIGKILL');
  await new Promise((r) => holder.once('exit', r));
  const lock = await acquireLock(name, { waitMs: 2000, pollMs: 50 });
  await lock.release();
  t.pass();
});

test('interrupt: a waiter asks the holder to stop, and gets the lock once the holder lets go', async (t) => {
  const name = `test-lock-${process.pid}-c`;
  let asked = 0;
  const holder = await acquireLock(name, {
    waitMs: 0,
    onInterrupt: () => {
      asked += 1;
      setTimeout(() => void holder.release(), 100);
    },
  });
  const waiter = await acquireLock(name, { waitMs: 5000, pollMs: 50, interrupt: true });
  t.is(asked, 1);
  await waiter.release();
});

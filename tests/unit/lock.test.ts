import { spawn } from 'node:child_process';
import test from 'ava';
import { LabStateError } from '../../src/errors.js';
import { acquireLock } from '../../src/host/lock.js';

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
     await acquireLock(${JSON.stringify(name)}, { waitMs: 0 }); console.log('held'); setInterval(() => {}, 1000);`,
  ]);
  await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
  await t.throwsAsync(acquireLock(name, { waitMs: 0 }));
  holder.kill('SIGKILL');
  await new Promise((r) => holder.once('exit', r));
  const lock = await acquireLock(name, { waitMs: 2000, pollMs: 50 });
  await lock.release();
  t.pass();
});

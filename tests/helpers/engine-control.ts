import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { engineAddress } from '../../src/runtime/docker-runtime.js';
import { engine } from './lab.js';

/**
 * Stops and starts the local Docker engine the way an operator would (`SIGTERM`, then the same
 * `dockerd` command line again), for the tests of a lab under engine trouble.
 */
export interface EngineControl {
  /** Sends dockerd SIGTERM and resolves once it has exited. */
  stop(): Promise<void>;
  /** Starts dockerd again with its earlier command line and environment; resolves once it answers. */
  start(): Promise<void>;
  /** Starts dockerd when it does not answer (after a failed test); does nothing otherwise. */
  ensureRunning(): Promise<void>;
}

const localSocket = ['/var/run/docker.sock', 'unix:///var/run/docker.sock'];
const stopTimeoutMs = 90_000;
const startTimeoutMs = 60_000;

/** The local engine as something a test may restart, or why it may not be. */
export function localEngine(): EngineControl | string {
  if (process.getuid?.() !== 0) return 'restarting the engine needs root';
  if (!localSocket.includes(engineAddress()))
    return `the engine is at ${engineAddress()}, not at the local ${localSocket[0]}`;
  const pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p) && comm(p) === 'dockerd');
  if (pids.length !== 1)
    return `expected one dockerd process, found ${pids.length} (start one with scripts/ensure-engine)`;
  const pid = pids[0]!;
  const cgroup = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  if (/docker\.service/.test(cgroup))
    return 'dockerd runs under systemd; these tests restart only an engine started as scripts/ensure-engine does';
  const argv = nulSeparated(`/proc/${pid}/cmdline`);
  const env = Object.fromEntries(
    nulSeparated(`/proc/${pid}/environ`).map((kv) => [
      kv.slice(0, kv.indexOf('=')),
      kv.slice(kv.indexOf('=') + 1),
    ]),
  );
  const log = logOf(pid);
  let current = Number(pid);

  const answers = async () =>
    engine().then(
      () => true,
      () => false,
    );
  const start = async () => {
    const fd = openSync(log, 'a');
    try {
      const child = spawn(argv[0]!, argv.slice(1), { env, detached: true, stdio: ['ignore', fd, fd] });
      child.unref();
      current = child.pid ?? current;
    } finally {
      closeSync(fd);
    }
    const deadline = Date.now() + startTimeoutMs;
    while (!(await answers())) {
      if (Date.now() > deadline)
        throw new Error(`dockerd did not answer within ${startTimeoutMs} ms; see ${log}`);
      await sleep(200);
    }
  };
  const ended = async () => {
    const deadline = Date.now() + stopTimeoutMs;
    while (alive(current)) {
      if (Date.now() > deadline)
        throw new Error(`dockerd (pid ${current}) did not stop within ${stopTimeoutMs} ms`);
      await sleep(200);
    }
  };
  return {
    async stop() {
      process.kill(current, 'SIGTERM');
      await ended();
    },
    start,
    async ensureRunning() {
      if (await answers()) return;
      await ended();
      await start();
    },
  };
}

function comm(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

function nulSeparated(file: string): string[] {
  return readFileSync(file, 'utf8').split('\0').filter(Boolean);
}

/** Where dockerd writes its output now (a file), so that the restarted one appends to it. */
function logOf(pid: string): string {
  try {
    const target = readlinkSync(`/proc/${pid}/fd/1`);
    if (target.startsWith('/') && !target.startsWith('/dev/') && existsSync(target)) return target;
  } catch {}
  return '/var/log/podlab-dockerd.log';
}

/** Whether the process still runs (a zombie that nobody reaps counts as ended). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

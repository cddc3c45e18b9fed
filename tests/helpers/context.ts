import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandContext } from '../../src/commands/context.js';
import type { CheckContext } from '../../src/conformance/check.js';
import type { Probes } from '../../src/conformance/probes.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { LabState } from '../../src/state/observe.js';
import { FakeHost, fakeClock } from './fake-host.js';

/**
 * A command context that records what a command printed, over the given runtime and a fake host (no
 * routes, no /proc, in-memory locks) with a clock whose waits return at once.
 */
export function testContext(
  runtime: Runtime,
  cwd = process.cwd(),
  host: FakeHost = new FakeHost(),
): CommandContext & { out: string[]; err: string[]; host: FakeHost } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    cwd,
    host,
    clock: fakeClock(),
    runtime: () => runtime,
    io: { out: (text) => out.push(text), err: (text) => err.push(text), interactive: false, quiet: true },
  };
}

/** Writes a topology to a fresh temporary folder and returns its path. */
export function writeTopology(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'podlab-test-')), 'lab.yaml');
  writeFileSync(file, text);
  return file;
}

/** What the checks get in unit tests: the lab and probes a test gives, no outside clients, a fake clock. */
export function checkContext(runtime: Runtime, state: LabState, probes: Probes): CheckContext {
  return {
    runtime,
    state,
    probes,
    outside: { http: async () => [] },
    engineHost: { http: async () => [] },
    clock: fakeClock(),
  };
}

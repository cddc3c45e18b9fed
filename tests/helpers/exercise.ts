import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { cniTemplate } from '../../src/apply/prepare.js';
import { systemClock } from '../../src/clock.js';
import { loadTopology } from '../../src/config/load.js';
import { conformance } from '../../src/conformance/conformance.js';
import { exerciseLab } from '../../src/exercises/api.js';
import { loadExercises } from '../../src/exercises/exercise.js';
import { localHost } from '../../src/host/host.js';
import { observeLab } from '../../src/state/observe.js';
import { engine, lab, labOk } from './lab.js';

/**
 * One shipped exercise, as a class meets it: start it and see its check fail (in the rule's terms,
 * never the fix), apply its intended fix through lab exec as a learner would, see the check pass, get
 * a hint, reset it, and find the lab passing every check again.
 */
export async function exerciseRoundTrip(
  t: ExecutionContext,
  name: string,
  file: string,
  id: string,
): Promise<void> {
  await labOk(t, ['exercise', 'start', id, '-f', file]);
  const before = await lab(['exercise', 'check', id, '-f', file]);
  t.is(before.code, 1, `check passed before the fix:\n${before.stdout}`);
  t.regex(before.stdout, new RegExp(`✘ ${id}: not fixed yet; still wrong:`));
  t.notRegex(before.stdout, /next:|add it back|ip route add|iptables -t nat -A|bridge fdb append/);

  const runtime = await engine();
  const { topology } = await loadTopology(file);
  const exercise = (await loadExercises(topology.exercises)).find((e) => e.id === id)!;
  const state = (await observeLab(runtime, name))!;
  const api = exerciseLab({
    runtime,
    topology,
    state,
    cniTemplate: await cniTemplate(),
    conformance: (ids) => conformance({ runtime, host: localHost(), clock: systemClock }, name, ids),
  });
  const dir = mkdtempSync(join(tmpdir(), 'podlab-solution-'));
  for (const step of await exercise.solution!(api)) {
    if (Array.isArray(step)) {
      await labOk(t, ['exec', '--lab', name, ...step.slice(0, 1), '--', ...step.slice(1)]);
      continue;
    }
    // A lab command with its file, as the learner would write it.
    const file = step.file ? join(dir, step.file.name) : undefined;
    if (step.file) writeFileSync(file!, step.file.text);
    await labOk(t, [...step.lab.map((a) => (a === step.file?.name ? file! : a)), '--lab', name]);
  }

  const after = await lab(['exercise', 'check', id, '-f', file]);
  t.is(after.code, 0, after.stdout);
  t.regex(after.stdout, new RegExp(`✔ ${id}: fixed`));

  const hint = await labOk(t, ['exercise', 'hint', id, '-f', file]);
  t.regex(hint.stdout, /^hint 1 of \d+: /);

  await labOk(t, ['exercise', 'reset', id, '-f', file]);
  const healthy = await lab(['test', '--lab', name]);
  t.is(healthy.code, 0, healthy.stdout);
}

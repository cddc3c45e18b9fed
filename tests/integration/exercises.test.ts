import test from 'ava';
import { cniTemplate } from '../../src/apply/prepare.js';
import { systemClock } from '../../src/clock.js';
import { loadTopology } from '../../src/config/load.js';
import { conformance } from '../../src/conformance/conformance.js';
import { exerciseLab } from '../../src/exercises/api.js';
import { loadExercises } from '../../src/exercises/exercise.js';
import { localHost } from '../../src/host/host.js';
import { observeLab } from '../../src/state/observe.js';
import { clearLab, engine, exampleAs, lab, labOk } from '../helpers/lab.js';

// This file's own lab: the example with its six exercises, named itest-ex, on 172.31.247.0/24.
const name = 'itest-ex';
let file: string;

test.before(async () => {
  await engine();
  await clearLab(name);
  file = exampleAs(name, '172.31.247.0/24');
});

test.after.always(async () => {
  await clearLab(name);
});

test.serial('the example lists its six exercises', async (t) => {
  const list = JSON.parse((await labOk(t, ['exercise', 'list', '-f', file, '--json'])).stdout) as {
    id: string;
    title: string;
    hints: number;
  }[];
  t.deepEqual(
    list.map((e) => e.id),
    ['missing-route', 'cni-ipmasq', 'resolver-search', 'selector-nothing', 'target-port', 'nodeport-missing'],
  );
  t.true(list.every((e) => e.title.length > 0 && e.hints >= 3));
  await labOk(t, ['up', '-f', file]);
});

for (const id of [
  'missing-route',
  'cni-ipmasq',
  'resolver-search',
  'selector-nothing',
  'target-port',
  'nodeport-missing',
]) {
  test.serial(
    `${id}: check fails after start, passes after the intended fix, and reset heals the lab`,
    async (t) => {
      await labOk(t, ['exercise', 'start', id, '-f', file]);
      const before = await lab(['exercise', 'check', id, '-f', file]);
      t.is(before.code, 1, `check passed before the fix:\n${before.stdout}`);
      t.regex(before.stdout, new RegExp(`✘ ${id}: not fixed yet`));

      // The intended fix, applied exactly as a learner would: through lab exec.
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
      for (const step of await exercise.solution!(api))
        await labOk(t, ['exec', '--lab', name, ...step.slice(0, 1), '--', ...step.slice(1)]);

      const after = await lab(['exercise', 'check', id, '-f', file]);
      t.is(after.code, 0, after.stdout);
      t.regex(after.stdout, new RegExp(`✔ ${id}: fixed`));

      const hint = await labOk(t, ['exercise', 'hint', id, '-f', file]);
      t.regex(hint.stdout, /^hint 1 of \d+: /);

      await labOk(t, ['exercise', 'reset', id, '-f', file]);
      const healthy = await lab(['test', '--lab', name]);
      t.is(healthy.code, 0, healthy.stdout);
    },
  );
}

test.serial('progress survives between commands and reset keeps the other exercises', async (t) => {
  await labOk(t, ['exercise', 'start', 'missing-route', '-f', file]);
  await labOk(t, ['exercise', 'hint', '-f', file]);
  const second = await labOk(t, ['exercise', 'hint', '-f', file]);
  t.regex(second.stdout, /^hint 2 of 3: /);
  const list = JSON.parse((await labOk(t, ['exercise', 'list', '-f', file, '--json'])).stdout) as {
    id: string;
    status: string;
  }[];
  t.is(list.find((e) => e.id === 'missing-route')!.status, 'started');
  const unknown = await lab(['exercise', 'start', 'no-such-exercise', '-f', file]);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /no exercise "no-such-exercise"; exercises are|exercises are: missing-route/);
});

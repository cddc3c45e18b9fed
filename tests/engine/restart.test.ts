import test from 'ava';
import { type EngineControl, localEngine } from '../helpers/engine-control.js';
import {
  clearLab,
  exampleAs,
  lab,
  labOk,
  leftovers,
  type StatusJson,
  status,
  upUntil,
} from '../helpers/lab.js';

// These tests stop and restart the Docker engine itself, so they run alone, after every other test
// (`ava --config tests/engine/ava.config.js` in npm test). They run under CI=true, where failing to control
// the engine is a failure; elsewhere only with PODLAB_TEST_ENGINE_RESTART=1, since they would stop
// every container of a developer's engine. This file's own lab and subnet: itest-eng on 172.31.251.0/24.
const name = 'itest-eng';
const subnet = '172.31.251.0/24';
const wanted = process.env.CI === 'true' || process.env.PODLAB_TEST_ENGINE_RESTART === '1';
const control = wanted ? localEngine() : undefined;
const serial = wanted ? test.serial : test.serial.skip;
const noEngine = /no Docker engine at \S+ \((ENOENT|ECONNREFUSED); found from [^)]+\)/;

function engineOrFail(): EngineControl {
  if (typeof control === 'string') throw new Error(`cannot stop and start the engine here: ${control}`);
  return control!;
}

test.before(async () => {
  if (!wanted) return;
  await engineOrFail().ensureRunning();
  await clearLab(name);
});

test.after.always(async () => {
  if (!wanted || typeof control !== 'object') return;
  await control.ensureRunning();
  await clearLab(name);
});

for (const step of [/❯ Starting nodes/, /❯ Creating pods/]) {
  serial(
    `the engine stopped in the middle of up (at "${step.source.slice(2)}"): a clear error, and once it is back status shows what is left and down removes it`,
    async (t) => {
      const engine = engineOrFail();
      const file = exampleAs(name, subnet);
      await clearLab(name);
      const run = upUntil(file, step);
      await run.reached;
      await engine.stop();
      const { code, stderr } = await run.done;
      t.is(code, 3, stderr);
      t.regex(stderr, new RegExp(`error: the Docker engine went away during lab up: ${noEngine.source}`));
      t.regex(stderr, /start it again, then remove what is left with: lab down itest-eng/);
      t.notRegex(stderr, /cleanup failed too/);

      // While it is gone, every command says so and how to fix it.
      for (const args of [
        ['status', name],
        ['down', name],
        ['up', '-f', file],
      ]) {
        const gone = await lab(args);
        t.is(gone.code, 3, `lab ${args.join(' ')}: ${gone.stderr}`);
        t.regex(gone.stderr, noEngine);
        t.regex(gone.stderr, /→ start one/);
      }

      await engine.start();
      const left = await leftovers(name);
      t.log(`after the engine came back: ${left} labelled objects of the lab were left`);
      const after = await lab(['status', name, '--json']);
      if (left > 0) {
        t.is(after.code, 1, after.stderr);
        const state = JSON.parse(after.stdout) as StatusJson;
        t.false(state.healthy);
        t.true(state.problems.length > 0);
      } else {
        t.is(after.code, 2, 'nothing is left, so the lab is not up');
      }
      const down = await labOk(t, ['down', name, '--ignore-not-found']);
      t.regex(
        down.stderr,
        left > 0 ? /lab itest-eng: removed \d+ containers? and \d+ networks?/ : /nothing to remove/,
      );
      t.is(await leftovers(name), 0);

      await labOk(t, ['up', '-f', file]);
      t.true((await status(t, name)).healthy);
    },
  );
}

serial(
  'the engine restarted under a running lab: status reports it degraded, up rebuilds it and its checks pass, down removes it',
  async (t) => {
    const engine = engineOrFail();
    const file = exampleAs(name, subnet);
    await labOk(t, ['up', '-f', file]);
    await engine.stop();
    await engine.start();

    const degraded = await lab(['status', name]);
    t.is(degraded.code, 1, degraded.stderr);
    t.regex(degraded.stdout, /lab itest-eng {2}node subnet 172\.31\.251\.0\/24 {2}DEGRADED/);
    t.regex(degraded.stdout, /problems:\n {2}- podlab-itest-eng-\S+ is exited/);
    t.regex(degraded.stdout, /next: lab up with its file rebuilds it .* lab down itest-eng removes it/);
    const state = JSON.parse((await lab(['status', name, '--json'])).stdout) as StatusJson;
    t.is(state.problems.length, 17, state.problems.join('\n'));
    // Nodes and sandboxes are "exited"; a pod's container says which pod, which container and its code.
    t.true(
      state.problems.every(
        (p) => p.endsWith(' is exited') || /^pod \S+: container \S+ exited with code \d+/.test(p),
      ),
      state.problems.join('\n'),
    );

    const rebuilt = await labOk(t, ['up', '-f', file]);
    t.regex(
      rebuilt.stderr,
      /lab itest-eng is stopped \(17 containers and its network, none running, as after an engine restart\); removing it and building it again/,
    );
    t.true((await status(t, name)).healthy);
    const checks = await labOk(t, ['test', name]);
    t.regex(checks.stdout, /15 passed/);

    await labOk(t, ['down', name]);
    t.is(await leftovers(name), 0);
  },
);

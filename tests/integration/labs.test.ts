import test from 'ava';
import { type Echo, engine, exampleAs, lab, labOk, ownLabs, status } from '../helpers/lab.js';

// This file's own labs and subnets, used by no other test.
const first = 'itest-left';
const second = 'itest-right';
const broken = 'itest-broken';

ownLabs(first, second, broken);

test.serial('two labs with different names run side by side without touching each other', async (t) => {
  const a = exampleAs(first, '172.31.242.0/24');
  const b = exampleAs(second, '172.31.243.0/24');
  const [upA, upB] = await Promise.all([lab(['up', '-f', a]), lab(['up', '-f', b])]);
  t.is(upA.code, 0, upA.stderr);
  t.is(upB.code, 0, upB.stderr);
  const [left, right] = [await status(t, first), await status(t, second)];
  t.true(left.healthy && right.healthy);
  // Same pod addresses in both labs: each lab's pod network lives inside its own nodes.
  t.deepEqual(
    left.pods.map((p) => p.ip),
    right.pods.map((p) => p.ip),
  );

  const ls = JSON.parse((await labOk(t, ['ls', '--json'])).stdout) as { name: string; healthy: boolean }[];
  t.true(ls.some((l) => l.name === first && l.healthy));
  t.true(ls.some((l) => l.name === second && l.healthy));

  await labOk(t, ['down', first]);
  const runtime = await engine();
  t.deepEqual(await runtime.listContainers({ 'io.podlab.lab': first }), []);
  const still = await status(t, second);
  t.true(still.healthy, still.problems.join('; '));
  const duo = still.pods.find((p) => p.name === 'duo')!;
  const echo = JSON.parse(
    (
      await labOk(t, [
        'exec',
        '--lab',
        second,
        'quux/client',
        '--',
        'curl',
        '-s',
        '-m',
        '5',
        `http://${duo.ip}:9090/`,
      ])
    ).stdout,
  ) as Echo;
  t.is(echo.pod, 'duo');
  await labOk(t, ['down', second]);
});

test.serial(
  'a failure in the middle of up removes everything it created and reports the cause (exit 3)',
  async (t) => {
    const file = exampleAs(broken, '172.31.244.0/24', (s) =>
      s.replace('command: [podlab-echo, --port, "9090"]', 'command: [no-such-program]'),
    );
    const run = await lab(['up', '-f', file]);
    t.is(run.code, 3, run.stderr);
    t.regex(
      run.stderr,
      /error: could not start container podlab-itest-broken-bar\.duo\.app: .*no-such-program/,
    );
    t.regex(run.stderr, /up failed; removing what it created/);
    const runtime = await engine();
    t.deepEqual(await runtime.listContainers({ 'io.podlab.lab': broken }), []);
    t.deepEqual(await runtime.listNetworks({ 'io.podlab.lab': broken }), []);

    const retained = await lab(['up', '-f', file, '--retain']);
    t.is(retained.code, 3);
    t.regex(retained.stderr, /kept what it created \(--retain\)/);
    t.true((await runtime.listContainers({ 'io.podlab.lab': broken })).length > 0);
    const degraded = await lab(['status', broken]);
    t.is(degraded.code, 1);
    t.regex(degraded.stdout, /DEGRADED/);
    await labOk(t, ['down', broken]);
    t.deepEqual(await runtime.listContainers({ 'io.podlab.lab': broken }), []);
  },
);

test('validate, plan and status exit codes: 0 valid, 2 invalid or unknown', async (t) => {
  const valid = await labOk(t, ['validate']);
  t.regex(valid.stdout, /lab\.example\.yaml: valid: lab demo, 3 nodes, 5 pods, 1 service$/m);
  const invalid = await lab(['validate', '-f', 'tests/fixtures/config/invalid/unknown-node.yaml']);
  t.is(invalid.code, 2);
  t.regex(
    invalid.stderr,
    /pods\[0\]\.node: unknown node "worker-9"; nodes are control-plane, worker-1 \(.*unknown-node\.yaml:9:11\)/,
  );
  const json = JSON.parse(
    (await lab(['validate', '--json', '-f', 'tests/fixtures/config/invalid/version.yaml'])).stdout,
  );
  t.is(json.valid, false);
  const plan = JSON.parse((await labOk(t, ['plan', '--json'])).stdout);
  t.deepEqual(
    plan.nodes.map((n: { podCIDR: string }) => n.podCIDR),
    ['10.244.0.0/24', '10.244.1.0/24', '10.244.2.0/24'],
  );
  const none = await lab(['status', 'itest-no-such-lab']);
  t.is(none.code, 2);
  t.regex(none.stderr, /lab itest-no-such-lab is not up/);
  const noneJson = await lab(['status', 'itest-no-such-lab', '--json']);
  t.is(noneJson.code, 2);
  t.like(JSON.parse(noneJson.stdout), { name: 'itest-no-such-lab', up: false, healthy: false, nodes: [] });
  const noneDown = await lab(['down', 'itest-no-such-lab']);
  t.is(noneDown.code, 2);
  t.regex(noneDown.stderr, /lab itest-no-such-lab is not up: nothing to remove/);
  const usage = await lab(['up', '--no-such-flag']);
  t.is(usage.code, 2);
  t.regex(usage.stderr, /unknown option '--no-such-flag'/);
});

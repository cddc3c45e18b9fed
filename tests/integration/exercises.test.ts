import { tmpdir } from 'node:os';
import test from 'ava';
import { exerciseRoundTrip } from '../helpers/exercise.js';
import { exampleAs, lab, labOk, ownLabs, status } from '../helpers/lab.js';

// This file's own lab: the example with its ten exercises, named itest-ex, on 172.31.247.0/24.
const name = 'itest-ex';
let file: string;

ownLabs(name);
test.before(() => {
  file = exampleAs(name, '172.31.247.0/24');
});

/** The exercises the example ships, in its order. */
const shipped = [
  'missing-route',
  'cni-ipmasq',
  'resolver-search',
  'selector-nothing',
  'target-port',
  'nodeport-missing',
  'search-list',
  'hairpin',
  'policy-breaks-dns',
  'policy-and-or',
];

test.serial('the example lists its ten exercises', async (t) => {
  const list = JSON.parse((await labOk(t, ['exercise', 'list', '-f', file, '--json'])).stdout) as {
    id: string;
    title: string;
    hints: number;
  }[];
  t.deepEqual(
    list.map((e) => e.id),
    shipped,
  );
  t.true(list.every((e) => e.title.length > 0 && e.hints >= 3));
  await labOk(t, ['up', '-f', file]);
});

test.serial('check of an exercise never started says so (exit 2), never "fixed"', async (t) => {
  const run = await lab(['exercise', 'check', 'cni-ipmasq', '-f', file]);
  t.is(run.code, 2, run.stdout);
  t.regex(run.stderr, /cni-ipmasq was never started in lab itest-ex: there is nothing to grade/);
  t.regex(run.stderr, /start it first: lab exercise start cni-ipmasq/);
  t.notRegex(run.stdout, /fixed/);
});

test.serial(
  'a reset undoes its own exercise and nothing else; credit stays; the report says what happened',
  async (t) => {
    await labOk(t, ['exercise', 'start', 'missing-route', '-f', file]);
    await labOk(t, ['exercise', 'start', 'resolver-search', '-f', file]);
    // Two exercises that change the same objects are not started at once.
    await labOk(t, ['exercise', 'start', 'selector-nothing', '-f', file]);
    const clash = await lab(['exercise', 'start', 'target-port', '-f', file]);
    t.is(clash.code, 2);
    t.regex(
      clash.stderr,
      /selector-nothing is started and changes rules:control-plane, rules:worker-1, rules:worker-2 too/,
    );
    await labOk(t, ['exercise', 'reset', 'selector-nothing', '-f', file]);

    // The solution of resolver-search, seen before solving: recorded.
    const solution = await labOk(t, ['exercise', 'solution', 'resolver-search', '-f', file]);
    t.regex(solution.stdout, /^lab exec --lab itest-ex bar\/client -- sh -c /m);
    t.regex(solution.stderr, /recorded: the solution of resolver-search was shown before it was solved/);

    // Reset resolver-search: missing-route stays broken.
    await labOk(t, ['exercise', 'reset', 'resolver-search', '-f', file]);
    const still = await lab(['exercise', 'check', 'missing-route', '-f', file]);
    t.is(still.code, 1, 'missing-route is still broken after another exercise was reset');
    t.regex(still.stdout, /node-routes fails/);

    // Solve missing-route, then reset it: the credit stays, and a check says it is not started.
    const hints = await labOk(t, ['exercise', 'hint', 'missing-route', '--all', '-f', file]);
    t.regex(hints.stdout, /hint 1 of 3: [\s\S]*hint 3 of 3: /);
    const state = await status(t, name);
    const [from, to] = [state.nodes.at(-2)!, state.nodes.at(-1)!];
    await labOk(t, ['exec', '--lab', name, from.name, '--', 'ip', 'route', 'add', to.podCIDR, 'via', to.ip]);
    await labOk(t, ['exercise', 'check', 'missing-route', '-f', file]);
    await labOk(t, ['exercise', 'reset', 'missing-route', '-f', file]);
    const after = await lab(['exercise', 'check', 'missing-route', '-f', file]);
    t.is(after.code, 2);
    t.regex(after.stderr, /missing-route is not started \(solved at .*, and reset since\)/);

    // From any folder, with --lab: the lab's own record of its exercises.
    const report = JSON.parse(
      (await lab(['exercise', 'report', '--lab', name, '--reporter', 'json'], { cwd: tmpdir() })).stdout,
    ) as { score: string; exercises: Record<string, unknown>[] };
    const row = (id: string) => report.exercises.find((e) => e.id === id)!;
    t.like(row('missing-route'), { status: 'solved', hintsUsed: 3, resets: 1, solutionBeforeSolving: false });
    t.true((row('missing-route').timeToSolveSeconds as number) >= 0);
    t.is(
      row('missing-route').attempts,
      2,
      'the failing check and the passing one; a check after reset grades nothing',
    );
    t.like(row('resolver-search'), {
      status: 'not started',
      resets: 1,
      solutionBeforeSolving: true,
      solvedAt: null,
    });
    t.like(row('cni-ipmasq'), { status: 'not started', starts: 0 });
    const junit = (await labOk(t, ['exercise', 'report', '--lab', name, '--reporter', 'junit'])).stdout;
    t.regex(junit, /<testcase classname="podlab\.itest-ex\.exercises" name="missing-route"/);
    const healthy = await lab(['test', '--lab', name]);
    t.is(healthy.code, 0, healthy.stdout);
  },
);

test.serial('progress survives between commands', async (t) => {
  await labOk(t, ['exercise', 'start', 'nodeport-missing', '-f', file]);
  await labOk(t, ['exercise', 'hint', '-f', file]);
  const second = await labOk(t, ['exercise', 'hint', '-f', file]);
  t.regex(second.stdout, /^hint 2 of 3: /);
  const list = JSON.parse((await labOk(t, ['exercise', 'list', '-f', file, '--json'])).stdout) as {
    id: string;
    status: string;
  }[];
  t.is(list.find((e) => e.id === 'nodeport-missing')!.status, 'started');
  const unknown = await lab(['exercise', 'start', 'no-such-exercise', '-f', file]);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /no exercise "no-such-exercise"; exercises are|exercises are: missing-route/);
  await labOk(t, ['exercise', 'reset', 'nodeport-missing', '-f', file]);
});

for (const id of shipped) {
  test.serial(`${id}: check fails after start, passes after the intended fix, and reset heals the lab`, (t) =>
    exerciseRoundTrip(t, name, file, id),
  );
}

import test from 'ava';
import { labName } from '../../src/commands/context.js';
import down from '../../src/commands/down.js';
import ls from '../../src/commands/ls.js';
import up from '../../src/commands/up.js';
import { UsageError } from '../../src/errors.js';
import { testContext, writeTopology } from '../helpers/context.js';
import { FakeHost } from '../helpers/fake-host.js';
import { FakeRuntime } from '../helpers/fake-runtime.js';

// Many students on one engine: each lab records who made it, and bare commands only consider the
// caller's own labs.

const topology = (name: string, subnet: number) =>
  writeTopology(
    `apiVersion: podlab/v1\nname: ${name}\ncluster: {nodeSubnet: 172.31.${subnet}.0/24}\nnodes: [{name: a}]\n`,
  );

async function classroom() {
  const runtime = new FakeRuntime();
  const ann = new FakeHost();
  ann.user = 'ann@pc1';
  const bob = new FakeHost();
  bob.user = 'bob@pc2';
  await up(testContext(runtime, '/nowhere', ann), { file: topology('ann-lab', 90) });
  await up(testContext(runtime, '/nowhere', bob), { file: topology('bob-lab', 91) });
  return { runtime, ann, bob };
}

test('lab ls shows who made each lab', async (t) => {
  const { runtime, ann } = await classroom();
  const ctx = testContext(runtime, '/nowhere', ann);
  await ls(ctx, { json: true });
  t.deepEqual(
    (JSON.parse(ctx.out.join('\n')) as { name: string; owner: string }[]).map((l) => `${l.name} ${l.owner}`),
    ['ann-lab ann@pc1', 'bob-lab bob@pc2'],
  );
});

test('a bare command picks the caller’s own lab, never another student’s', async (t) => {
  const { runtime, ann, bob } = await classroom();
  t.is(await labName(testContext(runtime, '/nowhere', ann), {}), 'ann-lab');
  t.is(await labName(testContext(runtime, '/nowhere', bob), {}), 'bob-lab');
});

test('lab down --all says what it would remove and, off a terminal, needs --yes', async (t) => {
  const { runtime, ann } = await classroom();
  const ctx = testContext(runtime, '/nowhere', ann);
  const error = await t.throwsAsync(down(ctx, undefined, { all: true }), { instanceOf: UsageError });
  t.regex(ctx.err.join('\n'), /lab down --all removes 2 labs: ann-lab, bob-lab \(bob@pc2\)/);
  t.regex(error!.message, /would remove 2 labs, 1 of them made by others, and no one confirmed it/);
  t.is(runtime.networks.size, 2, 'nothing removed');
  t.is(await down(testContext(runtime, '/nowhere', ann), undefined, { all: true, yes: true }), 0);
  t.is(runtime.networks.size, 0);
});

import test from 'ava';
import { Lab } from '../../src/api/lab.js';
import { ConfigError } from '../../src/errors.js';
import { writeTopology } from '../helpers/context.js';
import { FakeHost, fakeClock } from '../helpers/fake-host.js';
import { FakeRuntime } from '../helpers/fake-runtime.js';

const file = () =>
  writeTopology(
    'apiVersion: podlab/v1\nname: api-unit\ncluster: {nodeSubnet: 172.31.92.0/24}\nnodes: [{name: a}]\n',
  );

test('Lab.up renames a lab only to a valid name, before it touches the engine; the error carries its exit code', async (t) => {
  const runtime = new FakeRuntime();
  const deps = { runtime, host: new FakeHost(), clock: fakeClock() };
  const error = await t.throwsAsync(Lab.up({ file: file(), name: 'Bad_Name', deps }), {
    instanceOf: ConfigError,
  });
  t.is(error!.code, 2);
  t.regex(error!.message, /name: "Bad_Name" is not a valid lab name/);
  t.deepEqual(runtime.calls, []);
});

test('Lab.up brings a lab up under its new name; disposing of it removes it, attach does not', async (t) => {
  const runtime = new FakeRuntime();
  const deps = { runtime, host: new FakeHost(), clock: fakeClock() };
  {
    await using lab = await Lab.up({ file: file(), name: 'renamed', deps });
    t.is(lab.name, 'renamed');
    t.true(lab.owned);
    {
      await using attached = await Lab.attach('renamed', { deps });
      t.false(attached.owned);
    }
    t.is(runtime.networks.size, 1, 'attach left the lab up');
  }
  t.is(runtime.networks.size, 0);
  t.is(runtime.containers.size, 0);
});

import test from 'ava';
import { userImages } from '../../src/apply/actions.js';
import up from '../../src/commands/up.js';
import { parseTopology } from '../../src/config/load.js';
import { LabStateError, PodFailedError } from '../../src/errors.js';
import { planLab } from '../../src/plan/plan.js';
import { observeLab, podStateOf } from '../../src/state/observe.js';
import { testContext, writeTopology } from '../helpers/context.js';
import { FakeRuntime } from '../helpers/fake-runtime.js';

// The user's own images run as Kubernetes runs them: command replaces ENTRYPOINT, args replaces CMD,
// neither runs the image as built; pull policies; containers that exit.

const topology = `apiVersion: podlab/v1
name: images
cluster: {nodeSubnet: 172.31.81.0/24}
nodes: [{name: a}]
pods:
  - name: app
    containers:
      - {name: built, image: shop/web:1}
      - {name: cmd, image: shop/web:1, command: [/srv/run, --fast]}
      - {name: args, image: shop/web:1, args: [--port, "9090"], workingDir: /srv, imagePullPolicy: Never}
      - {name: both, image: shop/web:1, command: [/srv/run], args: [-v], imagePullPolicy: Always}
  - name: tools
    containers: [{name: idle}, {name: echo, command: [podlab-echo]}]
  - {name: job, image: shop/job:2, restartPolicy: Never}
`;

const plan = planLab(parseTopology(topology, 'lab.yaml').topology, {
  nodeSubnet: '172.31.81.0/24',
  nodeImage: 'podlab-node:test',
  cniTemplate: {},
});
const spec = (pod: string, container: string) =>
  plan.pods.find((p) => p.name === pod)!.containers.find((c) => c.name.endsWith(`.${container}`))!;

test('command replaces ENTRYPOINT and args replaces CMD; neither runs the image as built', (t) => {
  t.like(spec('app', 'built'), { image: 'shop/web:1', pull: 'IfNotPresent' });
  t.false('entrypoint' in spec('app', 'built') || 'cmd' in spec('app', 'built'));
  t.like(spec('app', 'cmd'), { entrypoint: ['/srv/run', '--fast'], cmd: [] });
  t.like(spec('app', 'args'), { cmd: ['--port', '9090'], workingDir: '/srv', pull: 'Never' });
  t.false('entrypoint' in spec('app', 'args'));
  t.like(spec('app', 'both'), { entrypoint: ['/srv/run'], cmd: ['-v'], pull: 'Always' });
});

test("podlab's own image without command idles; with one it runs it", (t) => {
  t.like(spec('tools', 'idle'), { image: 'podlab-node:test', cmd: ['sleep', 'infinity'] });
  t.false('pull' in spec('tools', 'idle'), "podlab's image is built here, never pulled");
  t.like(spec('tools', 'echo'), { entrypoint: ['podlab-echo'], cmd: [] });
});

test('restartPolicy Never or OnFailure makes a pod one-shot', (t) => {
  t.deepEqual(
    plan.pods.filter((p) => p.oneShot).map((p) => p.key),
    ['default/job'],
  );
});

test('pull policies per image: the strictest fetch wins; --pull overrides them all', (t) => {
  t.deepEqual(userImages(plan), [
    { ref: 'shop/web:1', policy: 'Always' },
    { ref: 'shop/job:2', policy: 'IfNotPresent' },
  ]);
  t.deepEqual(
    userImages(plan, 'never').map((i) => i.policy),
    ['Never', 'Never'],
  );
});

test('--pull never with an image the engine lacks is refused before anything is created, naming it', async (t) => {
  const runtime = new FakeRuntime();
  runtime.absentImages.add('shop/job:2');
  const error = await t.throwsAsync(
    up(testContext(runtime), { file: writeTopology(topology), pull: 'never' }),
    {
      instanceOf: LabStateError,
    },
  );
  t.regex(error!.message, /1 image not in the engine, and --pull never forbids fetching it: shop\/job:2/);
  t.regex(error!.hint!, /docker build -t shop\/job:2 DIR, or docker load -i FILE/);
  t.is(runtime.calls.filter((c) => c.method === 'createNetwork' || c.method === 'runContainer').length, 0);
});

test('a container that exits at once fails up with exit 1, naming it with its exit code and last output', async (t) => {
  const runtime = new FakeRuntime();
  const file = writeTopology(`apiVersion: podlab/v1
name: crash
cluster: {nodeSubnet: 172.31.82.0/24}
nodes: [{name: a}]
pods: [{name: web, image: shop/web:1}, {name: job, image: shop/job:2, restartPolicy: Never}]
`);
  const realRun = runtime.runContainer.bind(runtime);
  runtime.runContainer = async (s) => {
    const id = await realRun(s);
    if (s.image.startsWith('shop/')) {
      const c = runtime.containers.get(id)!;
      c.state = 'exited';
      c.exitCode = s.image === 'shop/web:1' ? 1 : 0;
      runtime.logLines.set(id, 'starting\nboom: no config at /etc/web.conf\n');
    }
    return id;
  };
  const error = await t.throwsAsync(up(testContext(runtime), { file, retain: true }), {
    instanceOf: PodFailedError,
  });
  t.is(error!.exitCode, 1);
  t.regex(
    error!.message,
    /1 container stopped right after starting:\n {2}default\/web container main exited with code 1; its last output:\n {6}starting\n {6}boom: no config/,
  );
  t.notRegex(error!.message, /default\/job/, 'a one-shot pod may exit');

  const state = await observeLab(runtime, 'crash');
  const web = state!.pods.find((p) => p.name === 'web')!;
  t.is(web.state, 'failed');
  t.like(web.containerStates[0], { name: 'main', state: 'exited', exitCode: 1 });
  t.is(state!.pods.find((p) => p.name === 'job')!.state, 'completed');
  t.true(
    state!.problems.some((p) =>
      /pod default\/web: container main exited with code 1; its last output: boom/.test(p),
    ),
  );
  t.false(state!.problems.some((p) => p.includes('default/job')));
});

test('a pod is running, completed or failed by its containers, never running with one exited', (t) => {
  const k = (state: string, exitCode?: number) => ({
    name: 'x',
    state,
    ...(exitCode !== undefined ? { exitCode } : {}),
  });
  t.is(podStateOf('running', [k('running'), k('running')], false), 'running');
  t.is(podStateOf('running', [k('running'), k('exited', 0)], false), 'failed');
  t.is(podStateOf('running', [k('exited', 0), k('exited', 0)], true), 'completed');
  t.is(podStateOf('running', [k('running'), k('exited', 0)], true), 'running');
  t.is(podStateOf('running', [k('exited', 2)], true), 'failed');
  t.is(podStateOf('exited', [k('running')], false), 'exited');
});

import test from 'ava';
import { removeLab } from '../../src/apply/remove.js';
import down from '../../src/commands/down.js';
import up from '../../src/commands/up.js';
import {
  EngineUnreachableError,
  InterruptedError,
  LabStateError,
  NetworkInUseError,
  RuntimeError,
  SubnetTakenError,
} from '../../src/errors.js';
import { observeLab } from '../../src/state/observe.js';
import { testContext, writeTopology } from '../helpers/context.js';
import { fakeClock } from '../helpers/fake-host.js';
import { type Call, FakeRuntime } from '../helpers/fake-runtime.js';

const topology = (name: string, extra = '') => `apiVersion: podlab/v1
name: ${name}
cluster: {nodeSubnet: 172.31.77.0/24}
nodes: [{name: a}, {name: b}, {name: c}]
pods:
  - {name: web, replicas: 3, labels: {app: web}, containers: [{name: s, command: [podlab-echo]}, {name: t}]}
  - {name: solo, node: a}
${extra}`;

// Every up in this process listens for SIGINT and SIGTERM while it runs, and these tests run many at once.
process.setMaxListeners(32);

const execs = (calls: Call[]) =>
  calls.filter((c) => c.method === 'exec').map((c) => `${c.target} ${c.args!.slice(1, 3).join(' ')}`);

test('up creates the network, nodes, pods and routes with one exec per node per phase', async (t) => {
  const runtime = new FakeRuntime();
  const ctx = testContext(runtime);
  t.is(await up(ctx, { file: writeTopology(topology('ordered')) }), 0);

  const creates = runtime.calls
    .filter((c) => c.method === 'createNetwork' || c.method === 'runContainer')
    .map((c) => c.target);
  t.deepEqual(creates.slice(0, 4), [
    'podlab-ordered',
    'podlab-ordered-a',
    'podlab-ordered-b',
    'podlab-ordered-c',
  ]);
  t.is(creates.length, 1 + 3 + 5 + 8, 'network, 3 nodes, 5 sandboxes (one is DNS), 8 pod containers');

  const nodeExecs = execs(runtime.calls);
  const hash = [...runtime.networks.values()][0]!.labels['io.podlab.topology-hash'];
  for (const node of ['a', 'b', 'c']) {
    const mine = nodeExecs.filter((e) => e.startsWith(`podlab-ordered-${node} `));
    // node configuration (CNI config, routes, Service rules), CNI ADD, then readiness with the marker
    t.deepEqual(mine, [
      `podlab-ordered-${node} configure`,
      `podlab-ordered-${node} cni ADD`,
      `podlab-ordered-${node} ready ${hash}`,
    ]);
  }
  const routes = runtime.calls.find(
    (c) => c.method === 'exec' && c.target === 'podlab-ordered-a' && c.args![1] === 'configure',
  );
  t.is(
    routes!.env!.PODLAB_ROUTES,
    [
      'route replace 10.244.1.0/24 via 172.31.77.3',
      'route replace 10.244.2.0/24 via 172.31.77.4',
      'route replace 10.96.0.10/32 dev eth0',
      'route replace unreachable 10.244.0.0/16',
      'route replace unreachable 10.96.0.0/12',
    ].join('\n'),
  );
  const cniAdd = runtime.calls.find(
    (c) => c.method === 'exec' && c.target === 'podlab-ordered-a' && c.args![1] === 'cni',
  );
  t.regex(
    cniAdd!.input!,
    /^default\/web-0 c\d+ 10\.244\.0\.2\ndefault\/solo c\d+ 10\.244\.0\.3\nkube-system\/kube-dns-0 c\d+ 10\.244\.0\.4$/,
  );
  t.regex(ctx.out.join('\n'), /default\/web-1\s+b\s+10\.244\.1\.2/);
});

test('a failure in the middle removes everything the run created and surfaces the original error', async (t) => {
  const runtime = new FakeRuntime();
  runtime.failOn = (call) =>
    call.method === 'runContainer' && call.target === 'podlab-broken-default.web-1.t'
      ? new RuntimeError('could not create container podlab-broken-default.web-1.t: injected')
      : undefined;
  const ctx = testContext(runtime);
  const error = await t.throwsAsync(up(ctx, { file: writeTopology(topology('broken')) }), {
    instanceOf: RuntimeError,
  });
  t.is(error!.message, 'could not create container podlab-broken-default.web-1.t: injected');
  t.is(runtime.containers.size, 0);
  t.is(runtime.networks.size, 0);
  t.true(runtime.calls.some((c) => c.method === 'removeNetwork'));
  t.regex(ctx.err.join('\n'), /up failed; removing what it created/);
});

test('a cleanup failure never hides the original error', async (t) => {
  const runtime = new FakeRuntime();
  runtime.failOn = (call) => {
    if (call.method === 'exec' && call.args?.[1] === 'configure')
      return new RuntimeError('configure: injected');
    if (call.method === 'removeNetwork') return new RuntimeError('network busy: injected');
    return undefined;
  };
  const ctx = testContext(runtime);
  const error = await t.throwsAsync(up(ctx, { file: writeTopology(topology('messy')) }));
  t.is(error!.message, 'configure: injected');
  t.regex(ctx.err.join('\n'), /cleanup failed too [\s\S]*network busy: injected\); run: lab down messy/);
});

test('--retain keeps what a failed up created', async (t) => {
  const runtime = new FakeRuntime();
  runtime.failOn = (call) =>
    call.method === 'exec' && call.args?.[1] === 'ready' ? new RuntimeError('injected') : undefined;
  const ctx = testContext(runtime);
  await t.throwsAsync(up(ctx, { file: writeTopology(topology('kept')), retain: true }));
  t.is(runtime.containers.size, 3 + 5 + 8);
  t.regex(ctx.err.join('\n'), /kept what it created \(--retain\)\. Remove it with: lab down kept/);
});

test('up of a lab that is up and matches does nothing; a change a running lab cannot make is refused', async (t) => {
  const runtime = new FakeRuntime();
  const file = writeTopology(topology('twice'));
  await up(testContext(runtime), { file });
  const before = runtime.calls.length;
  const again = testContext(runtime);
  t.is(await up(again, { file }), 0);
  t.false(
    runtime.calls.slice(before).some((c) => c.method === 'runContainer' || c.method === 'removeContainer'),
  );
  t.regex(again.err.join('\n'), /already up; nothing to do/);

  const changed = writeTopology(topology('twice', 'services: []\ncni: {bridge: br9}'));
  const error = await t.throwsAsync(up(testContext(runtime), { file: changed }), {
    instanceOf: LabStateError,
  });
  t.is(
    error!.message,
    'lab twice is up, and a running lab cannot change this field: cni.bridge (cni0 → br9)',
  );
  t.regex(error!.hint!, /^run lab down twice first, then lab up/);
});

test('leftovers of an unfinished run are removed before the lab is built again', async (t) => {
  const runtime = new FakeRuntime();
  const file = writeTopology(topology('debris'));
  runtime.failOn = (call) =>
    call.method === 'exec' && call.args?.[1] === 'ready' ? new RuntimeError('injected') : undefined;
  await t.throwsAsync(up(testContext(runtime), { file, retain: true }));
  runtime.failOn = undefined;
  const ctx = testContext(runtime);
  t.is(await up(ctx, { file }), 0);
  t.regex(
    ctx.err.join('\n'),
    /found leftovers of an earlier, unfinished run of lab debris \(16 containers and its network\); removing them first/,
  );
  t.is(runtime.containers.size, 3 + 5 + 8);
});

test('removal keeps going past a failure and reports it', async (t) => {
  const runtime = new FakeRuntime();
  await up(testContext(runtime), { file: writeTopology(topology('stuck')) });
  const stuck = [...runtime.containers.values()].find((c) => c.name === 'podlab-stuck-a')!;
  runtime.failOn = (call) =>
    call.method === 'removeContainer' && call.target === stuck.id
      ? new RuntimeError('device busy')
      : undefined;
  const error = await t.throwsAsync(removeLab(runtime, 'stuck'), { instanceOf: RuntimeError });
  t.regex(error!.message, /container podlab-stuck-a: device busy/);
  t.deepEqual(
    [...runtime.containers.values()].map((c) => c.name),
    ['podlab-stuck-a'],
  );
});

test('an engine that goes away during up: one clear error that says how to clean up once it is back', async (t) => {
  const runtime = new FakeRuntime();
  let gone = false;
  runtime.failOn = (call) => {
    if (call.method === 'runContainer' && call.target === 'podlab-lost-default.web-1') gone = true;
    return gone ? new EngineUnreachableError('no Docker engine at /fake.sock (ENOENT)') : undefined;
  };
  const ctx = testContext(runtime);
  const error = await t.throwsAsync(up(ctx, { file: writeTopology(topology('lost')) }), {
    instanceOf: RuntimeError,
  });
  t.is(error!.message, 'the Docker engine went away during lab up: no Docker engine at /fake.sock (ENOENT)');
  t.regex(error!.hint!, /start it again, then remove what is left with: lab down lost/);
  t.regex(
    ctx.err.join('\n'),
    /cleanup stopped: the Docker engine went away; what is left stays until it is back/,
  );
  t.notRegex(ctx.err.join('\n'), /cleanup failed too/);
});

test('an engine shutting down (it fails a start, then refuses the cleanup, yet still answers version) is named as the cause', async (t) => {
  const runtime = new FakeRuntime();
  runtime.failOn = (call) => {
    if (call.method === 'runContainer' && call.target === 'podlab-stopping-default.web-1')
      return new RuntimeError(
        'could not start container podlab-stopping-default.web-1: OCI runtime create failed',
      );
    if (call.method === 'removeContainer')
      return new EngineUnreachableError('no Docker engine at /fake.sock (ENOENT)');
    return undefined;
  };
  const ctx = testContext(runtime);
  const error = await t.throwsAsync(up(ctx, { file: writeTopology(topology('stopping')) }), {
    instanceOf: RuntimeError,
  });
  t.is(
    error!.message,
    'the Docker engine went away during lab up: no Docker engine at /fake.sock (ENOENT)\n  its last answer: could not start container podlab-stopping-default.web-1: OCI runtime create failed',
  );
  t.regex(ctx.err.join('\n'), /cleanup stopped: the Docker engine went away/);
});

test('removal with the engine gone part-way fails with that one error, not one line per object', async (t) => {
  const runtime = new FakeRuntime();
  await up(testContext(runtime), { file: writeTopology(topology('halfway')) });
  let removed = 0;
  runtime.failOn = (call) =>
    call.method === 'removeContainer' && ++removed > 4
      ? new EngineUnreachableError('no Docker engine at /fake.sock (ECONNREFUSED)')
      : undefined;
  const error = await t.throwsAsync(removeLab(runtime, 'halfway'), { instanceOf: EngineUnreachableError });
  t.is(error!.message, 'no Docker engine at /fake.sock (ECONNREFUSED)');
});

test('a lab whose containers all stopped is reported with what is missing, then rebuilt by up', async (t) => {
  const runtime = new FakeRuntime();
  const file = writeTopology(topology('stopped'));
  await up(testContext(runtime), { file });
  for (const c of runtime.containers.values()) c.state = 'exited';
  const gone = [...runtime.containers.values()].find((c) => c.name === 'podlab-stopped-default.solo')!;
  runtime.containers.delete(gone.id);
  const state = (await observeLab(runtime, 'stopped'))!;
  t.true(state.problems.includes('podlab-stopped-a is exited'));
  t.true(state.problems.includes('podlab-stopped-default.solo is missing'));
  const ctx = testContext(runtime);
  t.is(await up(ctx, { file }), 0);
  t.regex(
    ctx.err.join('\n'),
    /lab stopped is stopped \(15 containers and its network, none running, as after an engine restart\); removing it and building it again/,
  );
  t.deepEqual((await observeLab(runtime, 'stopped'))!.problems, []);
});

const unpinned = (name: string) => `apiVersion: podlab/v1
name: ${name}
nodes: [{name: a}, {name: b}]
pods: [{name: web, replicas: 2, containers: [{name: s}]}]
`;

test('a node subnet taken by a concurrent lab is picked again, not reported as a failure', async (t) => {
  const runtime = new FakeRuntime();
  let fails = 1;
  runtime.failOn = (call) =>
    call.method === 'createNetwork' && fails-- > 0
      ? new SubnetTakenError(
          'could not create network podlab-race: its subnet is taken: Pool overlaps with other one on this address space',
        )
      : undefined;
  const ctx = testContext(runtime);
  t.is(await up(ctx, { file: writeTopology(unpinned('race')) }), 0);
  t.regex(
    ctx.err.join('\n'),
    /node subnet 172\.30\.\d+\.0\/24 was taken meanwhile by another lab; picking another/,
  );
  t.is(runtime.calls.filter((c) => c.method === 'createNetwork').length, 2);
  t.is(runtime.networks.size, 1);
});

// Serial: the signal reaches every up running in this process, so nothing else may run meanwhile.
test.serial(
  'a signal during a step stops at once and removes everything, also what the step created afterwards',
  async (t) => {
    const runtime = new FakeRuntime();
    // CNI ADD takes a while, and the signal comes while it runs; meanwhile the pods' own
    // containers are still being created.
    let signalled = false;
    runtime.delayOn = (call) => {
      if (call.method === 'exec' && call.args?.[1] === 'cni') {
        if (!signalled) setTimeout(() => process.emit('SIGINT', 'SIGINT'), 10);
        signalled = true;
        return 400;
      }
      return call.method === 'runContainer' ? 50 : 0;
    };
    const ctx = testContext(runtime);
    const error = await t.throwsAsync(up(ctx, { file: writeTopology(unpinned('stopped')) }), {
      instanceOf: InterruptedError,
    });
    t.is(error!.exitCode, 130);
    // At once: no later phase ran after the signal.
    t.false(runtime.calls.some((c) => c.method === 'exec' && c.args?.[1] === 'ready'));
    t.is(
      runtime.containers.size,
      0,
      `left: ${[...runtime.containers.values()].map((c) => c.name).join(', ')}`,
    );
    t.is(runtime.networks.size, 0);
    t.regex(ctx.err.join('\n'), /SIGINT: stopping[\s\S]*up interrupted; removing what it created/);
  },
);

test('removing a network retries while the engine still reports active endpoints', async (t) => {
  const runtime = new FakeRuntime();
  await up(testContext(runtime), { file: writeTopology(unpinned('lagging')) });
  let busy = 3;
  runtime.failOn = (call) =>
    call.method === 'removeNetwork' && busy-- > 0
      ? new NetworkInUseError(
          'could not remove network x: error while removing network: network podlab-lagging has active endpoints',
        )
      : undefined;
  const removed = await removeLab(runtime, 'lagging', fakeClock());
  t.is(removed.networks.length, 1);
  t.is(runtime.networks.size, 0);
  t.is(runtime.calls.filter((c) => c.method === 'removeNetwork').length, 4);
});

/** Runs `up` of a lab whose CNI step lasts until `go` resolves; resolves once up holds the lab's lock. */
async function upHeldAtCni(runtime: FakeRuntime, ctx: ReturnType<typeof testContext>, name: string) {
  let go!: () => void;
  const gate = new Promise<void>((r) => {
    go = r;
  });
  let reached!: () => void;
  const atCni = new Promise<void>((r) => {
    reached = r;
  });
  const realExec = runtime.exec.bind(runtime);
  runtime.exec = async (container, cmd, options) => {
    if (cmd[1] === 'cni') {
      reached();
      await gate;
    }
    return realExec(container, cmd, options);
  };
  const running = up(ctx, { file: writeTopology(unpinned(name)) });
  running.catch(() => {});
  await atCni;
  return { running, go };
}

test('lab down waits for a running up of the lab, then removes it', async (t) => {
  const runtime = new FakeRuntime();
  const upCtx = testContext(runtime);
  const { running, go } = await upHeldAtCni(runtime, upCtx, 'waited');
  const downCtx = testContext(runtime, process.cwd(), upCtx.host);
  const downing = down(downCtx, 'waited', {});
  await new Promise((r) => setImmediate(r));
  t.regex(
    downCtx.err.join('\n'),
    /lab up of waited is running; waiting for it to finish \(lab down --force stops it\)/,
  );
  go();
  t.is(await running, 0, 'up was not disturbed');
  t.is(await downing, 0);
  t.is(runtime.containers.size, 0);
  t.is(runtime.networks.size, 0);
});

test('lab down --force stops a running up, which rolls back, then finds nothing left', async (t) => {
  const runtime = new FakeRuntime();
  const upCtx = testContext(runtime);
  const { running, go } = await upHeldAtCni(runtime, upCtx, 'forced');
  const downCtx = testContext(runtime, process.cwd(), upCtx.host);
  const downing = down(downCtx, 'forced', { force: true, ignoreNotFound: true });
  await t.throwsAsync(running, { instanceOf: InterruptedError });
  go();
  t.is(await downing, 0);
  t.regex(upCtx.err.join('\n'), /lab down --force: stopping, and removing what this run created/);
  t.regex(downCtx.err.join('\n'), /stopping it \(--force\)/);
  t.is(runtime.containers.size, 0);
  t.is(runtime.networks.size, 0);
});

test('lab down of a lab that does not exist exits 2, or 0 with --ignore-not-found', async (t) => {
  const runtime = new FakeRuntime();
  const error = await t.throwsAsync(down(testContext(runtime), 'ghost', {}), { instanceOf: LabStateError });
  t.is(error!.exitCode, 2);
  t.regex(error!.message, /lab ghost is not up: nothing to remove/);
  t.is(await down(testContext(runtime), 'ghost', { ignoreNotFound: true }), 0);
});

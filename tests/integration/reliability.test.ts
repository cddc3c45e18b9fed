import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import Docker from 'dockerode';
import { writeTopology } from '../helpers/context.js';
import { clearLab, engine, exampleAs, lab, labOk, leftovers, status, upUntil } from '../helpers/lab.js';

// This file's own labs and subnets: itest-rel-* on 172.31.248.0/24 (a bystander that runs throughout),
// 172.31.249.0/24 and 172.31.250.0/24, and labs whose node subnet podlab picks itself.
const interrupted = 'itest-rel-int';
const crashed = 'itest-rel-crash';
const twice = 'itest-rel-twice';
const auto = ['itest-rel-auto-a', 'itest-rel-auto-b', 'itest-rel-auto-c'];
const collideNet = 'itest-rel-collide';
const bystander = 'itest-rel-by';
const all = [interrupted, crashed, twice, ...auto, 'itest-rel-hostile', bystander];

/** The lab that runs beside every fault: whatever happens to the others, it stays healthy. */
async function bystanderIntact(t: ExecutionContext): Promise<void> {
  const state = await status(t, bystander);
  t.true(state.healthy, `bystander: ${state.problems.join('; ')}`);
  t.is(state.pods.filter((p) => p.ip).length, 6);
}

async function removeCollideNet(): Promise<void> {
  await new Docker()
    .getNetwork(collideNet)
    .remove()
    .catch(() => {});
}

test.before(async () => {
  await engine();
  await Promise.all(all.map(clearLab));
  await removeCollideNet();
  const up = await lab(['up', '-f', exampleAs(bystander, '172.31.248.0/24')]);
  if (up.code !== 0) throw new Error(`the bystander lab did not come up:\n${up.stderr}`);
});

test.after.always(async () => {
  await Promise.all(all.map(clearLab));
  await removeCollideNet();
});

for (const [step, signal] of [
  [/❯ Starting nodes/, 'SIGINT'],
  [/❯ Creating pods/, 'SIGINT'],
  [/❯ Creating pods/, 'SIGTERM'],
  [/❯ Waiting until every pod/, 'SIGINT'],
] as const) {
  test.serial(
    `${signal} during a first up (at "${step.source.slice(2)}") removes what it created and exits 130`,
    async (t) => {
      const file = exampleAs(interrupted, '172.31.249.0/24');
      const run = upUntil(file, step);
      await run.reached;
      const sent = Date.now();
      run.child.kill(signal);
      const { code, stderr } = await run.done;
      t.is(code, 130, stderr);
      t.true(Date.now() - sent < 20_000, `took ${Date.now() - sent} ms`);
      t.regex(stderr, new RegExp(`${signal}: stopping, and removing what this run created`));
      t.is(await leftovers(interrupted), 0);
      await bystanderIntact(t);
    },
  );
}

test.serial(
  'a second SIGINT exits at once and says how to clean up; lab down then removes the rest',
  async (t) => {
    const file = exampleAs(interrupted, '172.31.249.0/24');
    // Once every container exists, so that the removal the first SIGINT starts takes a while (it
    // removes 17 containers); the second comes as soon as up says it is removing.
    const run = upUntil(file, /❯ Waiting until every pod/);
    await run.reached;
    const removing = new Promise<void>((resolve) => {
      let seen = '';
      run.child.stderr.on('data', (d: Buffer) => {
        seen += d;
        if (/removing what it created/.test(seen)) resolve();
      });
    });
    run.child.kill('SIGINT');
    await removing;
    run.child.kill('SIGINT');
    const { code, stderr } = await run.done;
    t.is(code, 130);
    t.regex(stderr, /SIGINT again: exiting now\. Remove what is left with: lab down itest-rel-int/);
    t.is((await lab(['down', interrupted, '--ignore-not-found'])).code, 0);
    t.is(await leftovers(interrupted), 0);
    await bystanderIntact(t);
  },
);

test.serial('interrupting an up of a lab that is already up never destroys it', async (t) => {
  const file = exampleAs(interrupted, '172.31.249.0/24');
  await labOk(t, ['up', '-f', file]);
  for (const delay of [50, 400, 800]) {
    const child = spawn(join(process.cwd(), 'lab'), ['up', '-f', file], {
      env: { ...process.env, CI: 'true' },
    });
    child.stdout.resume();
    child.stderr.resume();
    setTimeout(() => child.kill('SIGINT'), delay);
    await new Promise((r) => child.on('close', r));
    const state = await status(t, interrupted);
    t.true(state.healthy, `after SIGINT at ${delay} ms: ${state.problems.join('; ')}`);
  }
  await labOk(t, ['down', interrupted]);
});

for (const step of [/❯ Starting nodes/, /❯ Configuring nodes/, /❯ Waiting until every pod/]) {
  test.serial(
    `after kill -9 of up (at "${step.source.slice(2)}"), lab down exits 0 and leaves nothing`,
    async (t) => {
      const file = exampleAs(crashed, '172.31.250.0/24');
      const run = upUntil(file, step);
      await run.reached;
      run.child.kill('SIGKILL');
      const { signal } = await run.done;
      t.is(signal, 'SIGKILL');
      const down = await lab(['down', crashed]);
      t.is(down.code, 0, down.stderr);
      t.is(await leftovers(crashed), 0);
      await bystanderIntact(t);
    },
  );
}

test.serial(
  'after kill -9 in the middle of creating containers, up detects the debris, removes it and builds the lab',
  async (t) => {
    const file = exampleAs(crashed, '172.31.250.0/24');
    const run = upUntil(file, /❯ Creating pods/);
    await run.reached;
    await new Promise((r) => setTimeout(r, 150));
    run.child.kill('SIGKILL');
    await run.done;
    t.true((await leftovers(crashed)) > 0, 'the crash left debris, as intended');
    const again = await labOk(t, ['up', '-f', file]);
    t.regex(
      again.stderr,
      /found leftovers of an earlier, unfinished run of lab itest-rel-crash \(\d+ containers and its network\); removing them first/,
    );
    t.true((await status(t, crashed)).healthy);
    await labOk(t, ['down', crashed]);
    await bystanderIntact(t);
  },
);

test.serial(
  'two up of the same lab at once: one builds it, the other waits and creates nothing',
  async (t) => {
    const file = exampleAs(twice, '172.31.249.0/24');
    const [a, b] = await Promise.all([lab(['up', '-f', file]), lab(['up', '-f', file])]);
    t.is(a.code, 0, a.stderr);
    t.is(b.code, 0, b.stderr);
    const waited = [a, b].filter((r) =>
      /another lab up of itest-rel-twice is running; waiting for it to finish/.test(r.stderr),
    );
    t.is(waited.length, 1);
    t.regex(waited[0]!.stderr, /lab itest-rel-twice is already up; nothing to do/);
    const runtime = await engine();
    t.is((await runtime.listContainers({ 'io.podlab.lab': twice })).length, 17);
    t.true((await status(t, twice)).healthy);
  },
);

test.serial(
  "least privilege: no node or pod is privileged, nodes get only DESIGN.md's capabilities, no Docker socket, only net.* sysctls",
  async (t) => {
    const docker = new Docker();
    const containers = await docker.listContainers({
      all: true,
      filters: { label: [`io.podlab.lab=${twice}`] },
    });
    t.is(containers.length, 17);
    for (const c of containers) {
      const info = await docker.getContainer(c.Id).inspect();
      const role = info.Config.Labels['io.podlab.role'];
      t.false(info.HostConfig.Privileged, `${info.Name} is privileged`);
      t.deepEqual(
        [...(info.HostConfig.CapAdd ?? [])].sort(),
        role === 'node'
          ? ['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN']
          : role === 'publisher'
            ? ['NET_ADMIN', 'NET_RAW']
            : [],
        info.Name,
      );
      t.false(
        (info.Mounts ?? []).some((m) => m.Source.includes('docker.sock')),
        `${info.Name} mounts the Docker socket`,
      );
      t.true(
        Object.keys(info.HostConfig.Sysctls ?? {}).every((k) => k.startsWith('net.')),
        info.Name,
      );
    }
    await labOk(t, ['down', twice]);
  },
);

test.serial(
  'labs of different names started at the same time all succeed, each on a free subnet it picked',
  async (t) => {
    const files = auto.map((name) =>
      // No nodeSubnet, and no host port: the three would share one.
      exampleAs(name, '172.31.249.0/24', (s) =>
        s.replace(/^ {2}nodeSubnet: .*\n/m, '').replace(/^ {8}hostPort: .*\n/m, ''),
      ),
    );
    const runs = await Promise.all(files.map((f) => lab(['up', '-f', f])));
    for (const r of runs) t.is(r.code, 0, r.stderr);
    const subnets = await Promise.all(auto.map(async (name) => (await status(t, name)).nodeSubnet));
    t.is(new Set(subnets).size, 3, subnets.join(', '));
    await Promise.all(auto.map((name) => labOk(t, ['down', name])));
  },
);

test.serial(
  'a node subnet or pod range that collides with another Docker network is refused before anything is created',
  async (t) => {
    await new Docker().createNetwork({ Name: collideNet, IPAM: { Config: [{ Subnet: '172.31.250.0/24' }] } });
    const byNodes = await lab(['up', '-f', exampleAs(crashed, '172.31.250.0/24')]);
    t.is(byNodes.code, 2);
    t.regex(
      byNodes.stderr,
      /cluster\.nodeSubnet 172\.31\.250\.0\/24 collides with Docker network itest-rel-collide/,
    );
    const byPods = await lab([
      'up',
      '-f',
      writeTopology(
        `apiVersion: podlab/v1\nname: ${crashed}\ncluster: {podCIDR: 172.31.250.0/24, nodeSubnet: 172.31.249.0/24}\nnodes: [{name: a}]\n`,
      ),
    ]);
    t.is(byPods.code, 2);
    t.regex(byPods.stderr, /cluster\.podCIDR 172\.31\.250\.0\/24 overlaps Docker network itest-rel-collide/);
    t.is(await leftovers(crashed), 0);
    await removeCollideNet();
  },
);

test.serial(
  'a hostile file is refused by up with a typed error; the command it hides never runs',
  async (t) => {
    const sentinel = `/tmp/podlab-hostile-${process.pid}`;
    const file = writeTopology(
      `apiVersion: podlab/v1\nname: "itest-rel-hostile$(touch ${sentinel})"\nnodes: [{name: "a;touch ${sentinel}"}]\npods: [{name: p, containers: [{name: c, command: ["sh", "-c", "touch ${sentinel}"]}]}]\n`,
    );
    const run = await lab(['up', '-f', file]);
    t.is(run.code, 2);
    t.regex(run.stderr, /is not a valid lab name/);
    t.false(existsSync(sentinel));
    t.is(await leftovers('itest-rel-hostile'), 0);
  },
);

async function engineTrouble(t: ExecutionContext, args: string[]): Promise<void> {
  const run = await lab(args, { env: { DOCKER_HOST: 'unix:///tmp/podlab-no-engine.sock' } });
  t.is(run.code, 3, `lab ${args.join(' ')}`);
  t.regex(
    run.stderr,
    /no Docker engine at unix:\/\/\/tmp\/podlab-no-engine\.sock \(ENOENT; found from DOCKER_HOST\)\n {2}→ start one/,
  );
}

test.serial(
  'without an engine, up, status, down and doctor say so and how to fix it (exit 3, doctor 1)',
  async (t) => {
    await engineTrouble(t, ['up', '-f', exampleAs(crashed, '172.31.250.0/24')]);
    await engineTrouble(t, ['status', crashed]);
    await engineTrouble(t, ['down', crashed]);
    const doctor = await lab(['doctor'], { env: { DOCKER_HOST: 'unix:///tmp/podlab-no-engine.sock' } });
    t.is(doctor.code, 1);
    t.regex(doctor.stdout, /✘ engine +no Docker engine/);
  },
);

test.serial(
  'a lab whose containers the engine stopped (as after an engine restart) is reported degraded, and down removes it',
  async (t) => {
    await labOk(t, ['up', '-f', exampleAs(crashed, '172.31.250.0/24')]);
    const docker = new Docker();
    const containers = await docker.listContainers({ filters: { label: [`io.podlab.lab=${crashed}`] } });
    await Promise.all(
      containers.map((c) =>
        docker
          .getContainer(c.Id)
          .kill()
          .catch(() => {}),
      ),
    );
    const degraded = await lab(['status', crashed]);
    t.is(degraded.code, 1);
    t.regex(degraded.stdout, /DEGRADED[\s\S]*problems:[\s\S]*is exited/);
    const down = await lab(['down', crashed]);
    t.is(down.code, 0);
    t.is(await leftovers(crashed), 0);
    await bystanderIntact(t);
  },
);

test('lab doctor checks the host and passes here', async (t) => {
  const run = await lab(['doctor', '--json']);
  t.is(run.code, 0, run.stdout);
  const ids = (JSON.parse(run.stdout) as { id: string; status: string }[]).map((f) => f.id);
  for (const id of [
    'engine',
    'engine-mode',
    'bridge-netfilter',
    'capabilities',
    'ip-forwarding',
    'iptables',
    'forward-policy',
    'neighbour-table',
    'free-subnets',
  ])
    t.true(ids.includes(id), id);
});

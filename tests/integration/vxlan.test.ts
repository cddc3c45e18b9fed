import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { podMtuScript } from '../../templates/exercises/shared.js';
import { writeTopology } from '../helpers/context.js';
import { exerciseRoundTrip } from '../helpers/exercise.js';
import { lab, labOk, ownLabs, type StatusJson, status } from '../helpers/lab.js';

// This file's own lab: the vxlan variant of the example (templates/labs/flannel-vxlan.yaml) as
// itest-vxlan on 172.31.231.0/24, publishing on 18231.
const name = 'itest-vxlan';
const file = writeTopology(
  readFileSync(join(process.cwd(), 'templates', 'labs', 'flannel-vxlan.yaml'), 'utf8')
    .replace(/^name: demo-vxlan\b/m, `name: ${name}`)
    .replace(/^ {2}# nodeSubnet: .*$/m, '  nodeSubnet: 172.31.231.0/24')
    .replace(/hostPort: 8081\b/, 'hostPort: 18231')
    .replace(/^ {2}- \.\.\/exercises\//gm, `  - ${join(process.cwd(), 'templates', 'exercises')}/`),
);
let state: StatusJson;

/** A node's output of a command. */
const inNode = async (t: ExecutionContext, node: string, ...cmd: string[]) =>
  (await labOk(t, ['exec', '--lab', name, node, '--', ...cmd])).stdout;

ownLabs(name);

test.serial('the vxlan lab comes up and passes every check, pod-mtu included', async (t) => {
  const up = await lab(['up', '-f', file, '--test']);
  t.is(up.code, 0, up.stdout + up.stderr);
  t.regex(up.stdout, /✔ pod-mtu /);
  t.regex(up.stdout, /15 passed, 0 failed, 0 skipped/);
  state = await status(t, name);
  const [a, b] = state.nodes;
  const routes = await inNode(t, a!.name, 'ip', '-4', 'route');
  t.regex(routes, new RegExp(`^${b!.podCIDR.replace(/[./]/g, '\\$&')} via \\S+ dev flannel\\.1 onlink`, 'm'));
  t.notRegex(routes, new RegExp(`via ${b!.ip.replace(/\./g, '\\.')}`), 'no host-gw route to a pod range');
  t.regex(
    await inNode(t, a!.name, 'bridge', 'fdb', 'show', 'dev', 'flannel.1'),
    new RegExp(`dst ${b!.ip.replace(/\./g, '\\.')} self permanent`),
  );
  t.regex(await inNode(t, a!.name, 'cat', '/sys/class/net/flannel.1/mtu'), /^1450/);
});

test.serial(
  'pod traffic between nodes is encapsulated: flannel.1 counts it, the node network carries UDP 8472',
  async (t) => {
    const node = state.nodes[0]!.name;
    const tx = async () =>
      Number(await inNode(t, node, 'cat', '/sys/class/net/flannel.1/statistics/tx_packets'));
    // A counting rule (no target) on the node's own UDP to the VXLAN port.
    const rule = ['OUTPUT', '-p', 'udp', '--dport', '8472', '-m', 'comment', '--comment', 'itest-count'];
    await inNode(t, node, 'iptables', '-I', ...rule);
    try {
      const before = await tx();
      await labOk(t, ['test', name, '--only', 'pod-to-pod-no-nat']);
      t.true((await tx()) > before, 'flannel.1 sent packets');
      const counted = await inNode(t, node, 'iptables', '-L', 'OUTPUT', '-v', '-n', '-x');
      const packets = Number(/^\s*(\d+)\s.*itest-count/m.exec(counted)?.[1]);
      t.true(packets > 0, counted);
    } finally {
      await inNode(t, node, 'iptables', '-D', ...rule);
    }
  },
);

test.serial(
  'pods of one node given MTU 1500 by hand: pod-mtu fails with every hop’s MTU, no other check does',
  async (t) => {
    const node = state.nodes.at(-1)!.name;
    await inNode(t, node, 'sh', '-c', podMtuScript(1500));
    const run = await lab(['test', name, '--reporter', 'json']);
    t.is(run.code, 1, run.stdout);
    const report = JSON.parse(run.stdout) as {
      checks: { id: string; status: string; seen: string; evidence: string[] }[];
    };
    t.deepEqual(
      report.checks.filter((c) => c.status !== 'passed').map((c) => c.id),
      ['pod-mtu'],
    );
    const mtu = report.checks.find((c) => c.id === 'pod-mtu')!;
    t.regex(mtu.seen, /a packet of 1451 bytes left the pod \(its eth0 takes more than the planned 1450\)/);
    t.regex(
      mtu.evidence.join('\n'),
      /MTU on each hop: pod \S+ eth0 1500, node \S+ cni0 \d+, flannel\.1 1450, eth0 1500 →/,
    );
    t.regex(mtu.evidence.join('\n'), /the largest packet that got from \S+ to \S+: 1450 bytes/);
    // podlab puts them back as planned (the CNI config is unchanged: wiring the pods again does it).
    await labOk(t, ['down', name]);
    await labOk(t, ['up', '-f', file]);
  },
);

for (const id of ['mtu-too-large', 'fdb-missing'])
  test.serial(`${id}: check fails after start, passes after the intended fix, and reset heals the lab`, (t) =>
    exerciseRoundTrip(t, name, file, id),
  );

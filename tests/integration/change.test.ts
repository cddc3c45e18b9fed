import test, { type ExecutionContext } from 'ava';
import { writeTopology } from '../helpers/context.js';
import { engine, labOk, ownLabs, status } from '../helpers/lab.js';

// This file's own lab: name itest-change, node subnet 172.31.238.0/24, and ranges and a domain of its
// own, so that nothing here depends on podlab's defaults.
const name = 'itest-change';
const base = `apiVersion: podlab/v1
name: ${name}
cluster: {nodeSubnet: 172.31.238.0/24, podCIDR: 10.70.0.0/16, serviceCIDR: 10.112.0.0/16, domain: change.test}
dns: {clusterIP: 10.112.0.10}
nodes: [{name: east}, {name: west}]
pods:
  - name: web
    namespace: shop
    replicas: 2
    labels: {app: web}
    containers: [{name: srv, command: [podlab-echo, --port, "8080"], ports: [{name: http, containerPort: 8080}]}]
  - {name: client, namespace: shop}
services:
  - {name: web, namespace: shop, type: NodePort, selector: {app: web}, ports: [{name: http, port: 80, targetPort: http}]}
`;

/** Every container of the lab by name, with its ID (the record containers left out). */
async function containers(): Promise<Map<string, string>> {
  const runtime = await engine();
  const list = await runtime.listContainers({ 'io.podlab.lab': name });
  return new Map(list.filter((c) => c.labels['io.podlab.role'] !== 'record').map((c) => [c.name, c.id]));
}

/** Applies `text` with lab up; returns the containers that are new or gone, and how long up took. */
async function change(
  t: ExecutionContext,
  text: string,
): Promise<{ fresh: string[]; gone: string[]; ms: number }> {
  const before = await containers();
  const file = writeTopology(text);
  const preview = await labOk(t, ['up', '-f', file, '--dry-run']);
  t.regex(preview.stdout, /^lab up would change lab itest-change in place:/);
  const run = await labOk(t, ['up', '-f', file]);
  t.regex(run.stderr, /changing it in place/);
  const after = await containers();
  const state = await status(t, name);
  t.true(state.healthy, state.problems.join('; '));
  // The lab keeps every rule after the change: the whole conformance suite passes.
  await labOk(t, ['test', name]);
  return {
    fresh: [...after]
      .filter(([n, id]) => before.get(n) !== id)
      .map(([n]) => n.replace(`podlab-${name}-`, '')),
    gone: [...before.keys()].filter((n) => !after.has(n)).map((n) => n.replace(`podlab-${name}-`, '')),
    ms: run.ms,
  };
}

ownLabs(name);

test.serial(
  'lab up applies each edit of a running lab in place, and lab test passes after each',
  async (t) => {
    await labOk(t, ['up', '-f', writeTopology(base)]);
    const timings: string[] = [];

    // A Service port: rules reload on every node; the DNS server restarts for its SRV record.
    const port = base.replace('name: http, port: 80,', 'name: http, port: 8081,');
    let step = await change(t, port);
    t.deepEqual(step.fresh, ['kube-system.kube-dns-0.dnsmasq']);
    t.deepEqual(step.gone, []);
    timings.push(`Service port ${step.ms.toFixed(0)} ms`);
    const curl = await labOk(t, [
      'exec',
      '--lab',
      name,
      'shop/client',
      '--',
      'curl',
      '-sS',
      '--max-time',
      '10',
      'http://web:8081/',
    ]);
    t.regex(curl.stdout, /10\.70\./, 'the new port answers from a web pod');

    // A pod added: its sandbox and container, and the DNS server for its record.
    const added = port.replace(
      '  - {name: client, namespace: shop}\n',
      '  - {name: client, namespace: shop}\n  - {name: late, namespace: shop, node: west}\n',
    );
    step = await change(t, added);
    t.deepEqual(step.fresh.sort(), ['kube-system.kube-dns-0.dnsmasq', 'shop.late', 'shop.late.main'].sort());
    t.deepEqual(step.gone, []);
    timings.push(`pod added ${step.ms.toFixed(0)} ms`);

    // A pod removed: only it goes (CNI DEL first), and the DNS server drops its record.
    step = await change(t, port.replace('    replicas: 2\n', '    replicas: 1\n'));
    t.deepEqual(step.gone.sort(), ['shop.late', 'shop.late.main', 'shop.web-1', 'shop.web-1.srv'].sort());
    t.deepEqual(step.fresh, ['kube-system.kube-dns-0.dnsmasq']);
    timings.push(`pods removed ${step.ms.toFixed(0)} ms`);

    // A node added: only the node is new; every other node gains the route to its pod range.
    const node = port
      .replace('    replicas: 2\n', '    replicas: 1\n')
      .replace('{name: west}]', '{name: west}, {name: north}]');
    step = await change(t, node);
    t.deepEqual(step.fresh, ['north']);
    t.deepEqual(step.gone, []);
    timings.push(`node added ${step.ms.toFixed(0)} ms`);
    const state = await status(t, name);
    const north = state.nodes.find((n) => n.name === 'north')!;
    t.is(north.ip, '172.31.238.4');
    const routes = await labOk(t, [
      'exec',
      '--lab',
      name,
      'east',
      '--',
      'ip',
      'route',
      'show',
      north.podCIDR,
    ]);
    t.regex(routes.stdout, new RegExp(`via ${north.ip.replace(/\./g, '\\.')}`));

    // The same file again: nothing to do.
    const again = await labOk(t, ['up', '-f', writeTopology(node)]);
    t.regex(again.stderr, /already up; nothing to do/);

    // Against building the final lab again from nothing.
    const downUp = performance.now();
    await labOk(t, ['down', name]);
    await labOk(t, ['up', '-f', writeTopology(node)]);
    timings.push(`down + up of the same lab ${(performance.now() - downUp).toFixed(0)} ms`);
    t.log(timings.join(' · '));
  },
);

test.serial('a change a running lab cannot make is refused by field, and nothing changes', async (t) => {
  await labOk(t, ['up', '-f', writeTopology(base)]);
  const before = await containers();
  const run = await labOk(
    t,
    ['up', '-f', writeTopology(base.replace('domain: change.test', 'domain: other.test'))],
    2,
  );
  t.regex(
    run.stderr,
    /a running lab cannot change this field: cluster\.domain \(change\.test → other\.test\)/,
  );
  t.regex(run.stderr, /run lab down itest-change first/);
  t.deepEqual(await containers(), before);
});

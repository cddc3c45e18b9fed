import test from 'ava';
import { readyMarkerPath } from '../../src/agent/agent.js';
import up from '../../src/commands/up.js';
import { type AddedField, addedFields, canonicalTopology, topologyHash } from '../../src/config/canonical.js';
import { parseTopology } from '../../src/config/load.js';
import type { Topology } from '../../src/config/types.js';
import { LabStateError } from '../../src/errors.js';
import { observeLab } from '../../src/state/observe.js';
import { testContext, writeTopology } from '../helpers/context.js';
import { FakeRuntime } from '../helpers/fake-runtime.js';

const hashOf = (text: string) => topologyHash(parseTopology(text, 'lab.yaml').topology);

const written = `apiVersion: podlab/v1
name: legacy
cluster: {nodeSubnet: 172.31.78.0/24, domain: old.test}
nodes: [{name: a}, {name: b}]
pods:
  - name: web
    namespace: shop
    replicas: 2
    labels: {app: web}
    containers:
      - name: s
        image: podlab-node
        command: [podlab-echo, --port, "8080"]
        ports: [{name: http, containerPort: 8080, protocol: TCP}]
  - {name: client, namespace: shop}
services:
  - {name: web, namespace: shop, type: NodePort, selector: {app: web}, ports: [{port: 80, targetPort: http, protocol: TCP}]}
`;

/**
 * The same lab: keys of every mapping in another order (lists keep theirs: their order places pods and
 * allocates addresses), the restated defaults (protocol: TCP, image: podlab-node) left out.
 */
const rewritten = `name: legacy
apiVersion: podlab/v1
nodes: [{name: a}, {name: b}]
services:
  - ports: [{targetPort: http, port: 80}]
    selector: {app: web}
    type: NodePort
    namespace: shop
    name: web
pods:
  - containers:
      - ports: [{containerPort: 8080, name: http}]
        command: [podlab-echo, --port, "8080"]
        name: s
    labels: {app: web}
    replicas: 2
    namespace: shop
    name: web
  - {namespace: shop, name: client}
cluster: {domain: old.test, nodeSubnet: 172.31.78.0/24}
`;

test('key order, formatting and restated defaults leave the topology hash alone', (t) => {
  t.is(hashOf(rewritten), hashOf(written));
  t.is(
    hashOf('{apiVersion: podlab/v1, name: x, nodes: [{name: a}], pods: [{name: p, image: podlab-node}]}'),
    hashOf('apiVersion: podlab/v1\nname: x\nnodes:\n  - name: a\npods:\n  - name: p\n'),
  );
  t.not(hashOf(written.replace('domain: old.test', 'domain: new.test')), hashOf(written));
  t.not(hashOf(written.replace('replicas: 2', 'replicas: 3')), hashOf(written));
});

test('fields added to podlab/v1 later change no hash while they hold their default', (t) => {
  // restartPolicy and imagePullPolicy came after the first release: a lab made before has the hash
  // its file had, whether the file writes them at their defaults or not.
  t.is(
    hashOf(written.replace('    replicas: 2\n', '    replicas: 2\n    restartPolicy: Always\n')),
    hashOf(written),
  );
  t.not(
    hashOf(written.replace('    replicas: 2\n', '    replicas: 2\n    restartPolicy: Never\n')),
    hashOf(written),
  );
  const topology = parseTopology(written, 'lab.yaml').topology;
  const added: AddedField[] = [
    ...addedFields,
    { path: ['cni', 'backend'], default: 'host-gw', since: 'a later podlab' },
  ];
  const withField = (value: string) =>
    ({ ...topology, cni: { ...topology.cni, backend: value } }) as unknown as Topology;
  t.is(topologyHash(withField('host-gw'), added), topologyHash(topology, added));
  t.is(topologyHash(withField('host-gw'), added), topologyHash(topology));
  t.not(topologyHash(withField('vxlan'), added), topologyHash(topology, added));
  const perItem: AddedField[] = [
    ...addedFields,
    { path: ['pods', '*', 'hostNetwork'], default: false, since: 'later' },
  ];
  const pods = topology.pods.map((p) => ({ ...p, hostNetwork: false }));
  t.deepEqual(canonicalTopology({ ...topology, pods } as Topology, perItem), canonicalTopology(topology));
});

/**
 * What podlab before the canonical hash recorded for `written` on the lab's network (taken from that
 * version's planLab, verbatim): the topology as written, defaults filled in the order it filled them.
 */
const legacyRecord = {
  hash: '306a1bf341ad14c7',
  topology:
    '{"apiVersion":"podlab/v1","name":"legacy","cluster":{"domain":"old.test","podCIDR":"10.244.0.0/16","nodeMaskSize":24,"serviceCIDR":"10.96.0.0/12","nodeSubnet":"172.31.78.0/24"},"cni":{"bridge":"cni0"},"dns":{"clusterIP":"10.96.0.10","upstream":[]},"nodes":[{"name":"a"},{"name":"b"}],"pods":[{"name":"web","namespace":"shop","replicas":2,"labels":{"app":"web"},"containers":[{"name":"s","image":"podlab-node","command":["podlab-echo","--port","8080"],"ports":[{"name":"http","containerPort":8080,"protocol":"TCP"}],"env":{}}]},{"name":"client","namespace":"shop","labels":{},"containers":[{"name":"main","env":{},"ports":[]}]}],"services":[{"name":"web","namespace":"shop","type":"NodePort","selector":{"app":"web"},"ports":[{"port":80,"targetPort":"http","protocol":"TCP"}]}],"exercises":[]}',
};

/** Brings `written` up on a fake engine, then relabels it as the older podlab left it. */
async function legacyLab(record = legacyRecord): Promise<FakeRuntime> {
  const runtime = new FakeRuntime();
  t0(await up(testContext(runtime), { file: writeTopology(written) }));
  for (const n of runtime.networks.values()) {
    n.labels['io.podlab.topology'] = record.topology;
    n.labels['io.podlab.topology-hash'] = record.hash;
    delete n.labels['io.podlab.topology-scheme'];
  }
  for (const c of runtime.containers.values()) {
    c.labels['io.podlab.topology-hash'] = record.hash;
    if (c.labels['io.podlab.role'] === 'node') runtime.files.set(`${c.name}:${readyMarkerPath}`, record.hash);
  }
  return runtime;
}

function t0(code: number): void {
  if (code !== 0) throw new Error(`up exited ${code}`);
}

test('a lab recorded by an older podlab (hash scheme 1) is up to date for its file, also rewritten', async (t) => {
  const runtime = await legacyLab();
  const state = await observeLab(runtime, 'legacy');
  t.deepEqual(state!.problems, []);
  for (const text of [written, rewritten]) {
    const before = runtime.calls.length;
    const ctx = testContext(runtime);
    t.is(await up(ctx, { file: writeTopology(text) }), 0);
    t.regex(ctx.err.join('\n'), /lab legacy is already up; nothing to do/);
    t.false(
      runtime.calls.slice(before).some((c) => c.method === 'runContainer' || c.method === 'removeContainer'),
    );
  }
  // A changed file changes the lab in place: one more replica is one more pod, nothing else is new.
  const changed = writeTopology(written.replace('replicas: 2', 'replicas: 3'));
  const before = runtime.calls.length;
  const ctx = testContext(runtime);
  t.is(await up(ctx, { file: changed }), 0);
  t.regex(ctx.err.join('\n'), /changing it in place:\n {2}\+ pod shop\/web-2 on /);
  const created = runtime.calls.slice(before).filter((c) => c.method === 'runContainer');
  t.deepEqual(
    created.map((c) => c.target),
    [
      'podlab-legacy-shop.web-2',
      'podlab-legacy-shop.web-2.s',
      'podlab-legacy-kube-system.kube-dns-0.dnsmasq',
    ],
    'the new pod, and the DNS server with its record',
  );
  t.deepEqual((await observeLab(runtime, 'legacy'))!.problems, []);
});

test('a recorded topology that does not match its hash, or is no topology, is a clear error', async (t) => {
  const tampered = await legacyLab({
    ...legacyRecord,
    topology: legacyRecord.topology.replace('"replicas":2', '"replicas":3'),
  });
  const error = await t.throwsAsync(up(testContext(tampered), { file: writeTopology(written) }), {
    instanceOf: LabStateError,
  });
  t.regex(
    error!.message,
    /lab legacy is up, but the label io\.podlab\.topology of network podlab-legacy does not match its hash 306a1bf341ad14c7/,
  );
  t.is(error!.hint, 'remove it with lab down legacy, then run lab up again');

  const broken = await legacyLab({ ...legacyRecord, topology: '{"apiVersion":"podlab/v1","name":"legacy"}' });
  const state = await observeLab(broken, 'legacy');
  t.true(
    state!.problems.some((p) =>
      /label io\.podlab\.topology of network podlab-legacy is not a valid topology: .*missing required key "nodes"/.test(
        p,
      ),
    ),
    state!.problems.join('\n'),
  );
});

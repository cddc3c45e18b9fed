import test from 'ava';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { parseTopology } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { planLab } from '../../src/plan/plan.js';

/** Strings that hostile or careless files contain: shell syntax, newlines, long runs, unicode. */
const nasty = fc.oneof(
  fc.constantFrom(
    '',
    'a',
    'worker-1',
    'x;rm -rf /',
    '$(touch /tmp/p)',
    '`id`',
    'a\nb',
    'A_B',
    '-x',
    'x-',
    '../..',
    'é',
    'a'.repeat(80),
    '10.0.0.1',
  ),
  fc.string({ maxLength: 30 }),
);
const cidrish = fc.oneof(
  fc.constantFrom(
    '10.244.0.0/16',
    '10.96.0.0/12',
    '172.31.9.0/24',
    '10.244.0.1/16',
    '300.1.1.1/8',
    '10.0.0.0/33',
    '10.0.0.0',
    'x',
  ),
  fc.tuple(fc.nat(255), fc.nat(255), fc.nat(32)).map(([a, b, bits]) => `10.${a}.${b}.0/${bits}`),
);
const anyValue = fc.oneof(
  nasty,
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(nasty, { maxLength: 3 }),
);

/** Topologies that are almost right: the shape of the format, with values drawn from the above. */
const topology = fc.record(
  {
    apiVersion: fc.oneof(fc.constant('podlab/v1'), nasty),
    name: nasty,
    cluster: fc.record(
      {
        domain: fc.oneof(fc.constant('cluster.local'), nasty),
        podCIDR: cidrish,
        serviceCIDR: cidrish,
        nodeSubnet: cidrish,
        nodeMaskSize: fc.integer({ min: -1, max: 40 }),
      },
      { requiredKeys: [] },
    ),
    cni: fc.record({ bridge: nasty, mtu: fc.integer() }, { requiredKeys: [] }),
    nodes: fc.array(fc.record({ name: nasty, podCIDR: cidrish }, { requiredKeys: ['name'] }), {
      maxLength: 4,
    }),
    pods: fc.array(
      fc.record(
        {
          name: nasty,
          namespace: nasty,
          node: nasty,
          replicas: fc.integer({ min: -1, max: 300 }),
          labels: fc.dictionary(nasty, nasty, { maxKeys: 2 }),
          containers: fc.array(
            fc.record(
              { name: nasty, command: fc.array(nasty, { maxLength: 3 }) },
              { requiredKeys: ['name'] },
            ),
            { maxLength: 2 },
          ),
        },
        { requiredKeys: ['name'] },
      ),
      { maxLength: 4 },
    ),
    services: fc.array(
      fc.record(
        {
          name: nasty,
          namespace: nasty,
          type: fc.constantFrom('ClusterIP', 'NodePort', 'ExternalName', 'LoadBalancer'),
          clusterIP: fc.oneof(fc.constant('None'), nasty),
          selector: fc.dictionary(nasty, nasty, { maxKeys: 2 }),
          ports: fc.array(
            fc.record(
              {
                name: nasty,
                port: fc.integer({ min: -1, max: 70000 }),
                targetPort: fc.oneof(fc.integer(), nasty),
                nodePort: fc.integer({ min: 29000, max: 33000 }),
              },
              { requiredKeys: ['port'] },
            ),
            { maxLength: 3 },
          ),
        },
        { requiredKeys: ['name'] },
      ),
      { maxLength: 3 },
    ),
    extra: anyValue,
  },
  { requiredKeys: ['apiVersion', 'name', 'nodes'] },
);

/** Topologies that are mostly valid, so that planning is exercised too. */
const label = fc.stringMatching(/^[a-z]([a-z0-9-]{0,6}[a-z0-9])?$/);
const nearlyValid = fc.record({
  apiVersion: fc.constant('podlab/v1'),
  name: label,
  cluster: fc.record({ nodeMaskSize: fc.integer({ min: 20, max: 28 }) }),
  nodes: fc.uniqueArray(fc.record({ name: label }), { minLength: 1, maxLength: 4, selector: (n) => n.name }),
  pods: fc.uniqueArray(
    fc.record({
      name: label,
      namespace: fc.constantFrom('a', 'b'),
      replicas: fc.integer({ min: 1, max: 3 }),
      labels: fc.constantFrom({ app: 'x' }, { app: 'y' }, {}),
      containers: fc.constant([{ name: 'c', ports: [{ name: 'http', containerPort: 8080 }] }]),
    }),
    { maxLength: 4, selector: (p) => `${p.namespace}/${p.name}` },
  ),
  services: fc.uniqueArray(
    fc.record({
      name: fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/),
      namespace: fc.constantFrom('a', 'b'),
      type: fc.constantFrom('ClusterIP', 'NodePort'),
      clusterIP: fc.constantFrom(undefined, 'None'),
      selector: fc.constantFrom({ app: 'x' }, { app: 'y' }),
      ports: fc.constantFrom(
        [{ port: 80, targetPort: 'http' }],
        [
          { name: 'a', port: 81 },
          { name: 'b', port: 82, protocol: 'UDP' },
        ],
      ),
    }),
    { maxLength: 3, selector: (s) => `${s.namespace}/${s.name}` },
  ),
});

test('the validator only ever returns a topology or a ConfigError, and a valid one always plans', (t) => {
  let valid = 0;
  fc.assert(
    fc.property(fc.oneof(topology, nearlyValid), (doc) => {
      let loaded: ReturnType<typeof parseTopology> | undefined;
      try {
        loaded = parseTopology(stringify(doc), 'fuzz.yaml');
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        return error.issues.length > 0 && error.issues.every((i) => i.message.length > 0);
      }
      valid++;
      planLab(loaded.topology, {
        nodeSubnet: '172.31.9.0/24',
        nodeImage: 'podlab-node:fuzz',
        cniTemplate: {},
      });
      return true;
    }),
    { numRuns: 1500, seed: 20261128 },
  );
  t.log(`${valid} of 1500 generated topologies were valid and planned`);
  t.true(valid > 200, `only ${valid} valid topologies: the generator no longer exercises planning`);
});

test('arbitrary text is refused with a ConfigError, never a crash', (t) => {
  fc.assert(
    fc.property(fc.string({ maxLength: 400, unit: 'binary' }), (text) => {
      try {
        parseTopology(text, 'fuzz.yaml');
      } catch (error) {
        return error instanceof ConfigError;
      }
      return true;
    }),
    { numRuns: 2000, seed: 20261128 },
  );
  t.pass('2000 texts: each one loaded or refused with a ConfigError');
});

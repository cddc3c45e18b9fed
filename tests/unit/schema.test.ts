import { readFileSync } from 'node:fs';
import test from 'ava';
import { topologySchema } from '../../src/config/schema.js';

test('the published JSON Schema is the one the validator uses (npm run schema rewrites it)', (t) => {
  t.deepEqual(
    JSON.parse(readFileSync('schemas/podlab-v1.schema.json', 'utf8')),
    JSON.parse(JSON.stringify(topologySchema)),
  );
});

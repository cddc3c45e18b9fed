import { copyFileSync, writeFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import standalone from 'ajv/dist/standalone/index.js';
import { shapeOptions, topologySchema } from '../src/config/schema.js';
import { packagePath } from '../src/paths.js';

// `npm run build` runs this after tsc. It compiles the topology schema, with the loader's options,
// into a standalone validator next to the compiled loader, so that `lab validate` and `lab up` load
// it instead of compiling the schema with all of ajv on every start (about 80 ms). CommonJS, since
// ajv's standalone code requires its runtime helpers; src/config/shape-validator.d.cts types it.
const ajv = new Ajv({ ...shapeOptions, code: { source: true } });
// Its type declaration goes beside it, for the package's users.
copyFileSync(
  packagePath('src', 'config', 'shape-validator.d.cts'),
  packagePath('dist', 'src', 'config', 'shape-validator.d.cts'),
);
writeFileSync(
  packagePath('dist', 'src', 'config', 'shape-validator.cjs'),
  standalone.default(ajv, ajv.compile(topologySchema)),
);

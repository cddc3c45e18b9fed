import { writeFileSync } from 'node:fs';
import { topologySchema } from '../src/config/schema.js';

/** Writes the published JSON Schema from the one the validator uses (npm run schema). */
writeFileSync('schemas/podlab-v1.schema.json', `${JSON.stringify(topologySchema, null, 2)}\n`);

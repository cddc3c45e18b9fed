// The topology schema's validator, compiled by scripts/write-validator.ts into
// dist/src/config/shape-validator.cjs when podlab is built.
import type { ValidateFunction } from 'ajv';

declare const validate: ValidateFunction;
export = validate;

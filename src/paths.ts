import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The podlab checkout or package: where templates/, schemas/ and lab.example.yaml live. */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A path inside the package. */
export function packagePath(...parts: string[]): string {
  return resolve(packageRoot, ...parts);
}

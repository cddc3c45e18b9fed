/** One step into a document: a mapping key or a list index. */
export type PathPart = string | number;

/** Maps a path in the document to `file:line:col`: of its value, or with `key` of the key itself. */
export type Locate = (path: readonly PathPart[], options?: { key?: boolean }) => string | undefined;

/** `['pods', 2, 'node']` → `pods[2].node`. */
export function formatPath(path: readonly PathPart[]): string {
  return path.reduce<string>(
    (acc, part) => (typeof part === 'number' ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part),
    '',
  );
}

/** `1 node`, `3 nodes`: a number with its noun, singular or plural (`plural` where it is not noun + s). */
export function count(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}

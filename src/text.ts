/** `1 node`, `3 nodes`: a number with its noun, singular or plural. */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

import { formatIp, mask } from '../net/ipv4.js';

/** Parses /proc/net/route: destination and mask are little-endian hex; the default route is left out. */
export function parseProcRoutes(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 8) continue;
    const dest = Number.parseInt(fields[1]!, 16);
    const m = Number.parseInt(fields[7]!, 16);
    const swap = (n: number) =>
      (((n & 255) << 24) | (((n >>> 8) & 255) << 16) | (((n >>> 16) & 255) << 8) | (n >>> 24)) >>> 0;
    const bits = countBits(swap(m));
    if (bits === 0) continue;
    out.push(`${formatIp((swap(dest) & mask(bits)) >>> 0)}/${bits}`);
  }
  return out;
}

function countBits(n: number): number {
  let bits = 0;
  for (let v = n; v; v = (v << 1) >>> 0) bits++;
  return bits;
}

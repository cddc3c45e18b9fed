import { formatCidr, overlaps, parseCidr } from '../net/ipv4.js';

/** Where podlab looks for a free node subnet: 172.30.0.0/24, 172.30.1.0/24, … 172.31.255.0/24. */
export const nodeSubnetPool = { base: '172.30.0.0/15', bits: 24 } as const;

/** Something an address range may not overlap, and how to name it in a message. */
export interface TakenRange {
  cidr: string;
  owner: string;
}

/** The first /24 of the pool that overlaps nothing taken; undefined when the pool is full. */
export function pickNodeSubnet(taken: TakenRange[]): string | undefined {
  const pool = parseCidr(nodeSubnetPool.base);
  const ranges = taken.map((t) => parseCidr(t.cidr));
  const count = 2 ** (nodeSubnetPool.bits - pool.bits);
  for (let i = 0; i < count; i++) {
    const candidate = { base: pool.base + i * 2 ** (32 - nodeSubnetPool.bits), bits: nodeSubnetPool.bits };
    if (!ranges.some((r) => overlaps(r, candidate))) return formatCidr(candidate);
  }
  return undefined;
}

/** Everything a given range collides with. */
export function collisions(cidr: string, taken: TakenRange[]): TakenRange[] {
  const range = parseCidr(cidr);
  return taken.filter((t) => overlaps(parseCidr(t.cidr), range));
}

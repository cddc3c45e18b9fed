import ipaddr from 'ipaddr.js';

/** An IPv4 network as numbers: `base` is the network address, `bits` the prefix length. */
export interface Cidr {
  base: number;
  bits: number;
}

/** Parses a dotted quad strictly (four decimal parts); returns undefined when it is not one. */
export function parseIp(text: string): number | undefined {
  if (!ipaddr.IPv4.isValidFourPartDecimal(text)) return undefined;
  const bytes = ipaddr.IPv4.parse(text).toByteArray();
  return ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
}

/** Formats a 32-bit number as a dotted quad. */
export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Why a CIDR string is not a network, or undefined when it is one. */
export function cidrProblem(text: string): string | undefined {
  const [ip, bits, extra] = text.split('/');
  if (ip === undefined || bits === undefined || extra !== undefined || !/^\d{1,2}$/.test(bits)) {
    return `"${text}" is not a CIDR; write it as a.b.c.d/n, e.g. 10.244.0.0/16`;
  }
  const base = parseIp(ip);
  const n = Number(bits);
  if (base === undefined) return `"${ip}" is not an IPv4 address`;
  if (n > 32) return `prefix length /${n} is over 32`;
  const masked = (base & mask(n)) >>> 0;
  if (masked !== base) return `"${text}" has host bits set; the network is ${formatIp(masked)}/${n}`;
  return undefined;
}

/** Parses a CIDR that `cidrProblem` accepted. */
export function parseCidr(text: string): Cidr {
  const problem = cidrProblem(text);
  if (problem) throw new Error(problem);
  const [ip, bits] = text.split('/');
  return { base: parseIp(ip!)!, bits: Number(bits) };
}

/** The netmask of a prefix length as a number. */
export function mask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** Formats a CIDR back to text. */
export function formatCidr(c: Cidr): string {
  return `${formatIp(c.base)}/${c.bits}`;
}

/** How many addresses a network spans. */
export function size(c: Cidr): number {
  return 2 ** (32 - c.bits);
}

/** The last address of a network. */
export function lastIp(c: Cidr): number {
  return c.base + size(c) - 1;
}

/** Whether an address lies in a network. */
export function contains(c: Cidr, ip: number): boolean {
  return ip >= c.base && ip <= lastIp(c);
}

/** Whether `inner` lies wholly in `outer`. */
export function within(inner: Cidr, outer: Cidr): boolean {
  return inner.bits >= outer.bits && contains(outer, inner.base);
}

/** Whether two networks share any address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base <= lastIp(b) && b.base <= lastIp(a);
}

/** The i-th subnet of prefix `bits` inside `parent` (0-based). */
export function subnet(parent: Cidr, bits: number, index: number): Cidr {
  return { base: parent.base + index * 2 ** (32 - bits), bits };
}

/** The address at `offset` from a network's base (offset 1 is the usual gateway). */
export function hostAt(c: Cidr, offset: number): number {
  return c.base + offset;
}

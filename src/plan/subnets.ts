import type { Topology } from '../config/types.js';
import { formatCidr, overlaps, parseCidr } from '../net/ipv4.js';

/** Where podlab looks for a free node subnet: 172.30.0.0/24, 172.30.1.0/24, … 172.31.255.0/24. */
export const nodeSubnetPool = { base: '172.30.0.0/15', bits: 24 } as const;

/** Something an address range may not overlap, and how to name it in a message. */
export interface TakenRange {
  cidr: string;
  owner: string;
}

/** A network of the engine as subnet choice sees it: its name, subnets and the lab that owns it. */
export interface ExistingNetwork {
  name: string;
  subnets: string[];
  /** The lab it belongs to (its podlab label), if any. */
  lab?: string;
}

/**
 * Ranges a lab's addresses must not overlap: the engine's networks and the host's routes. Networks
 * of `lab` itself (when it is up already) are no collision, nor are the host routes to any network's
 * bridge (named once, as the network). IPv6 subnets never collide with IPv4 ranges and are left out.
 */
export function takenRanges(networks: ExistingNetwork[], routes: string[], lab?: string): TakenRange[] {
  const v4 = (cidr: string) => !cidr.includes(':');
  const bridged = new Set(networks.flatMap((n) => n.subnets));
  const taken: TakenRange[] = routes
    .filter((cidr) => v4(cidr) && !bridged.has(cidr))
    .map((cidr) => ({ cidr, owner: `host route ${cidr}` }));
  for (const n of networks) {
    if (lab !== undefined && n.lab === lab) continue;
    const owner = n.lab ? `lab ${n.lab} (network ${n.name})` : `Docker network ${n.name}`;
    for (const cidr of n.subnets.filter(v4)) taken.push({ cidr, owner });
  }
  return taken;
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

/** Why a lab's ranges cannot be used here, or its node subnet; each names what it collides with. */
export type SubnetChoice = { ok: true; nodeSubnet: string } | { ok: false; message: string; hint: string };

/**
 * Decides a lab's node subnet: the file's, checked against what is taken, or the first free one of
 * the pool. The pod and Service ranges must not overlap anything taken either: the lab's addresses
 * would be ambiguous on the host. (Labs may share pod and Service ranges with each other: each lab's
 * live inside its own nodes.)
 */
export function chooseNodeSubnet(topology: Topology, taken: TakenRange[]): SubnetChoice {
  const clashes = [
    { what: 'cluster.podCIDR', cidr: topology.cluster.podCIDR },
    { what: 'cluster.serviceCIDR', cidr: topology.cluster.serviceCIDR },
  ].flatMap(({ what, cidr }) =>
    collisions(cidr, taken).map((hit) => `${what} ${cidr} overlaps ${hit.owner}`),
  );
  if (clashes.length)
    return {
      ok: false,
      message: clashes.join('; '),
      hint: 'choose ranges that are free on this host (lab doctor lists what is taken)',
    };
  const wanted = topology.cluster.nodeSubnet;
  if (wanted) {
    const hit = collisions(wanted, taken);
    return hit.length
      ? {
          ok: false,
          message: `cluster.nodeSubnet ${wanted} collides with ${hit.map((h) => h.owner).join(', ')}`,
          hint: 'pick another subnet, or leave cluster.nodeSubnet out and podlab picks a free one',
        }
      : { ok: true, nodeSubnet: wanted };
  }
  const free = pickNodeSubnet([
    ...taken,
    { cidr: topology.cluster.podCIDR, owner: 'cluster.podCIDR' },
    { cidr: topology.cluster.serviceCIDR, owner: 'cluster.serviceCIDR' },
  ]);
  return free
    ? { ok: true, nodeSubnet: free }
    : {
        ok: false,
        message: `no free /${nodeSubnetPool.bits} left in ${nodeSubnetPool.base} for the node network`,
        hint: 'set cluster.nodeSubnet to a free range',
      };
}

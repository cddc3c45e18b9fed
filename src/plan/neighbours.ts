/**
 * The kernel keeps IPv4 neighbour (ARP) entries of every network namespace in one table, whose hard
 * limit is net.ipv4.neigh.default.gc_thresh3 (1024 by default). A lab whose nodes all talk to each
 * other needs about one entry per node pair, so a lab of 30 nodes overflows it: the kernel logs
 * "neighbor table overflow!" and connections fail with "No route to host" although every route is
 * right. These functions size the need, so that up and doctor can say so before it bites.
 */

/**
 * Neighbour entries a lab needs when everything talks to everything, given how many pods each node
 * hosts: every node resolves every other node (N·(N−1)) and the host and its gateway (2N); every pod
 * its gateway and every node its pods (2P); pods of one node resolve each other directly.
 */
export function neighbourEntries(podsPerNode: number[]): number {
  const nodes = podsPerNode.length;
  const pods = podsPerNode.reduce((a, b) => a + b, 0);
  const local = podsPerNode.reduce((sum, p) => sum + p * (p - 1), 0);
  return nodes * (nodes - 1) + 2 * nodes + 2 * pods + local;
}

/** The kernel's thresholds that fit `needed` entries with room to spare (gc_thresh1/2/3). */
export function neighbourLimits(needed: number): {
  gc_thresh1: number;
  gc_thresh2: number;
  gc_thresh3: number;
} {
  let gc_thresh3 = 1024;
  while (gc_thresh3 < 2 * needed) gc_thresh3 *= 2;
  return { gc_thresh1: gc_thresh3 / 8, gc_thresh2: gc_thresh3 / 2, gc_thresh3 };
}

/** How many nodes of `podsPerNode` pods each a table of `limit` entries holds, fully meshed. */
export function nodesThatFit(limit: number, podsPerNode = 3): number {
  let nodes = 1;
  while (neighbourEntries(Array(nodes + 1).fill(podsPerNode)) <= limit) nodes++;
  return nodes;
}

/** The `sysctl -w` command that raises the limits for `needed` entries. */
export function neighbourFix(needed: number): string {
  const limits = neighbourLimits(needed);
  return `sysctl -w ${Object.entries(limits)
    .map(([k, v]) => `net.ipv4.neigh.default.${k}=${v}`)
    .join(' ')} (and the same in /etc/sysctl.d/ to keep it)`;
}

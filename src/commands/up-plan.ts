import { readFile } from 'node:fs/promises';
import type { Topology } from '../config/types.js';
import { LabStateError } from '../errors.js';
import { hostRoutes } from '../host/routes.js';
import { nodeImageRef } from '../image/node-image.js';
import { Label } from '../labels.js';
import { packagePath } from '../paths.js';
import { planLab } from '../plan/plan.js';
import { collisions, pickNodeSubnet, type TakenRange } from '../plan/subnets.js';
import type { LabPlan } from '../plan/types.js';
import type { Runtime } from '../runtime/runtime.js';

/** The CNI configuration template every node's config is rendered from. */
export async function cniTemplate(): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(packagePath('templates', 'cni', 'bridge.conf.json'), 'utf8')) as Record<
    string,
    unknown
  >;
}

/** Ranges a new node subnet must not overlap: other Docker networks and the host's routes. */
export async function takenRanges(runtime: Runtime | undefined, lab: string): Promise<TakenRange[]> {
  const networks = runtime ? await runtime.listNetworks() : [];
  // The lab's own network (when it is up already) is no collision, nor is the host route to it.
  const own = new Set(networks.filter((n) => n.labels[Label.lab] === lab).flatMap((n) => n.subnets));
  // A Docker network's bridge shows up as a host route too: name the network, once.
  const bridged = new Set(networks.flatMap((n) => n.subnets));
  const taken: TakenRange[] = (await hostRoutes())
    .filter((cidr) => !own.has(cidr) && !bridged.has(cidr))
    .map((cidr) => ({ cidr, owner: `host route ${cidr}` }));
  for (const n of networks) {
    if (n.labels[Label.lab] === lab) continue;
    const owner = n.labels[Label.lab]
      ? `lab ${n.labels[Label.lab]} (network ${n.name})`
      : `Docker network ${n.name}`;
    for (const cidr of n.subnets) if (!cidr.includes(':')) taken.push({ cidr, owner });
  }
  return taken;
}

/**
 * Decides the node subnet (the file's, checked against what is taken, or a free one) and plans the lab.
 * The pod and Service ranges must not overlap another Docker network or a host route either: the
 * lab's addresses would be ambiguous on this host. (Labs may share pod and Service ranges with each
 * other: each lab's live inside its own nodes.) With no runtime (lab plan), only the host's routes
 * are known.
 */
export async function planFor(
  topology: Topology,
  runtime?: Runtime,
  refused: string[] = [],
): Promise<LabPlan> {
  // `refused`: subnets the engine just refused (another lab is creating its network there, and may
  // not be listed yet).
  const taken = [
    ...(await takenRanges(runtime, topology.name)),
    ...refused.map((cidr) => ({ cidr, owner: 'a network being created' })),
  ];
  const clashes = [
    { what: 'cluster.podCIDR', cidr: topology.cluster.podCIDR },
    { what: 'cluster.serviceCIDR', cidr: topology.cluster.serviceCIDR },
  ].flatMap(({ what, cidr }) =>
    collisions(cidr, taken).map((hit) => `${what} ${cidr} overlaps ${hit.owner}`),
  );
  if (clashes.length) {
    throw new LabStateError(
      clashes.join('; '),
      'choose ranges that are free on this host (lab doctor lists what is taken)',
    );
  }
  const own: TakenRange[] = [
    { cidr: topology.cluster.podCIDR, owner: 'cluster.podCIDR' },
    { cidr: topology.cluster.serviceCIDR, owner: 'cluster.serviceCIDR' },
  ];
  let nodeSubnet = topology.cluster.nodeSubnet;
  if (nodeSubnet) {
    const hit = collisions(nodeSubnet, taken);
    if (hit.length) {
      throw new LabStateError(
        `cluster.nodeSubnet ${nodeSubnet} collides with ${hit.map((h) => h.owner).join(', ')}`,
        'pick another subnet, or leave cluster.nodeSubnet out and podlab picks a free one',
      );
    }
  } else {
    nodeSubnet = pickNodeSubnet([...taken, ...own]);
    if (!nodeSubnet)
      throw new LabStateError(
        'no free /24 left in 172.30.0.0/15 for the node network',
        'set cluster.nodeSubnet to a free range',
      );
  }
  return planLab(topology, { nodeSubnet, nodeImage: await nodeImageRef(), cniTemplate: await cniTemplate() });
}

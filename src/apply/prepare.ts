import { readFile } from 'node:fs/promises';
import type { Topology } from '../config/types.js';
import { LabStateError } from '../errors.js';
import { engineSide } from '../host/engine-side.js';
import type { Host } from '../host/host.js';
import { takenRanges } from '../host/taken.js';
import { ensureNodeImage, imageOptionsFromEnv, nodeImageRef } from '../image/node-image.js';
import { Label } from '../labels.js';
import { packagePath } from '../paths.js';
import { allocationOf } from '../plan/allocation.js';
import { planLab } from '../plan/plan.js';
import { chooseNodeSubnet } from '../plan/subnets.js';
import type { LabPlan } from '../plan/types.js';
import type { Runtime } from '../runtime/runtime.js';
import type { LabState } from '../state/observe.js';

/** The CNI configuration template every node's config is rendered from. */
export async function cniTemplate(): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(packagePath('templates', 'cni', 'bridge.conf.json'), 'utf8')) as Record<
    string,
    unknown
  >;
}

/**
 * Gathers what the pure plan needs besides the topology (what is taken on the engine and host, the
 * node image, the CNI template), decides the node subnet and plans the lab. `refused`: subnets the
 * engine just refused (another lab is creating its network there, and may not be listed yet).
 * Without a runtime (lab plan), only the host's routes are known.
 */
export async function planFor(
  topology: Topology,
  host: Host,
  runtime?: Runtime,
  refused: string[] = [],
): Promise<LabPlan> {
  const taken = [
    ...(await takenRanges(runtime, host, topology.name)),
    ...refused.map((cidr) => ({ cidr, owner: 'a network being created' })),
  ];
  const choice = chooseNodeSubnet(topology, taken);
  if (!choice.ok) throw new LabStateError(choice.message, choice.hint);
  return planLab(topology, {
    nodeSubnet: choice.nodeSubnet,
    nodeImage: await nodeImageRef(),
    cniTemplate: await cniTemplate(),
    owner: host.owner(),
  });
}

/**
 * The two plans of a change in place: the running lab's (its recorded topology, as it was given its
 * addresses) and the file's, planned so that whatever stays keeps its node, addresses and ports.
 */
export async function planChange(
  existing: LabState & { plan: LabPlan; recorded: { ok: true; topology: Topology } },
  topology: Topology,
  host: Host,
): Promise<{ from: LabPlan; to: LabPlan }> {
  const common = {
    nodeImage: existing.network?.labels[Label.image] ?? existing.plan.image,
    cniTemplate: await cniTemplate(),
    owner: existing.owner || host.owner(),
    previous: allocationOf(existing.plan),
  };
  return {
    from: planLab(existing.recorded.topology, { ...common, nodeSubnet: existing.nodeSubnet }),
    to: planLab(topology, { ...common, nodeSubnet: topology.cluster.nodeSubnet ?? existing.nodeSubnet }),
  };
}

/**
 * The engine host as `up` reads it (routes, kernel settings): this machine, or a helper container on
 * the engine that runs podlab's node image, built first when missing (its progress to `log`).
 */
export function upHost(host: Host, runtime: Runtime, log: (line: string) => void): Promise<Host> {
  return engineSide(host, runtime, () =>
    ensureNodeImage(
      runtime,
      imageOptionsFromEnv((line) => log(`  ${line}`)),
    ),
  );
}

import { Label } from '../labels.js';
import { takenRanges as rangesOf, type TakenRange } from '../plan/subnets.js';
import type { Runtime } from '../runtime/runtime.js';
import type { Host } from './host.js';

/**
 * What a lab's ranges must stay clear of, read from the engine (its networks) and the host (its
 * routes); decided by plan/subnets.ts. Without a runtime (lab plan), only the host's routes.
 * `lab`: the lab being planned, whose own network is no collision.
 */
export async function takenRanges(
  runtime: Runtime | undefined,
  host: Host,
  lab?: string,
): Promise<TakenRange[]> {
  const [networks, routes] = await Promise.all([runtime ? runtime.listNetworks() : [], host.routes()]);
  return rangesOf(
    networks.map((n) => ({
      name: n.name,
      subnets: n.subnets,
      ...(n.labels[Label.lab] ? { lab: n.labels[Label.lab] } : {}),
    })),
    routes,
    lab,
  );
}

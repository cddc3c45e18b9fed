import { type Clock, systemClock } from '../clock.js';
import { EngineUnreachableError, messageOf, NetworkInUseError, RuntimeError } from '../errors.js';
import { Label, labFilter } from '../labels.js';
import type { ContainerInfo, Runtime } from '../runtime/runtime.js';
import { engineConcurrency, mapLimit } from './limit.js';

/** What a removal removed. */
export interface Removed {
  containers: string[];
  networks: string[];
}

const order: Record<string, number> = { container: 0, sandbox: 1, node: 2 };

/**
 * Removes containers in stages: pod containers (and any other role), then sandboxes, then nodes, so
 * that nothing is removed while a container that joined its namespaces is still being torn down.
 * `remove` removes one (and may catch its error); each stage runs concurrently.
 */
export async function removeInStages(
  containers: ContainerInfo[],
  remove: (c: ContainerInfo) => Promise<void>,
): Promise<void> {
  for (const stage of [0, 1, 2]) {
    const batch = containers.filter((c) => (order[c.labels[Label.role] ?? ''] ?? 0) === stage);
    await mapLimit(batch, engineConcurrency, remove);
  }
}

/** How long removing a network may keep retrying while the engine still releases endpoints. */
const networkRetryMs = 15_000;

/**
 * Removes a network. Right after its containers are removed the engine may still report "active
 * endpoints" for a moment (moby/moby#19261): retry with backoff, removing any labelled container
 * that is still listed in between.
 */
async function removeNetwork(
  runtime: Runtime,
  id: string,
  lab: string | undefined,
  clock: Clock,
): Promise<void> {
  const deadline = clock.now() + networkRetryMs;
  for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
    try {
      await runtime.removeNetwork(id);
      return;
    } catch (error) {
      if (!(error instanceof NetworkInUseError) || clock.now() + delay > deadline) throw error;
      for (const c of await runtime.listContainers(labFilter(lab))) await runtime.removeContainer(c.id);
      await clock.sleep(delay);
    }
  }
}

/**
 * Removes everything that carries the lab's label (or every lab's, when `lab` is undefined): works
 * after a crash or a half-finished `up`, since it reads what exists rather than what was planned.
 * Keeps going past a failure and reports every one at the end.
 */
export async function removeLab(
  runtime: Runtime,
  lab?: string,
  clock: Clock = systemClock,
): Promise<Removed> {
  const containers = await runtime.listContainers(labFilter(lab));
  const failures: string[] = [];
  const errors: unknown[] = [];
  const failed = (what: string) => (error: unknown) => {
    errors.push(error);
    failures.push(`${what}: ${messageOf(error)}`);
  };
  await removeInStages(containers, (c) => runtime.removeContainer(c.id).catch(failed(`container ${c.name}`)));
  const networks = await runtime.listNetworks(labFilter(lab));
  let stale = false;
  for (const n of networks) {
    await removeNetwork(runtime, n.id, lab, clock).catch((error: unknown) => {
      stale ||= error instanceof NetworkInUseError;
      failed(`network ${n.name}`)(error);
    });
  }
  // The engine went away part-way: one line that says so, not one per object.
  const gone = errors.find((e) => e instanceof EngineUnreachableError);
  if (gone) throw gone;
  if (stale) {
    throw new RuntimeError(
      `could not remove everything of ${lab ? `lab ${lab}` : 'the labs'}:\n  ${failures.join('\n  ')}`,
      'the engine still holds an endpoint with no container behind it (a Docker bug, moby/moby#42119); restarting the engine clears it, then run lab down again',
    );
  }
  if (failures.length) {
    throw new RuntimeError(
      `could not remove everything of ${lab ? `lab ${lab}` : 'the labs'}:\n  ${failures.join('\n  ')}`,
      'run lab down again; if it persists, check the engine (docker ps -a)',
    );
  }
  return { containers: containers.map((c) => c.name), networks: networks.map((n) => n.name) };
}

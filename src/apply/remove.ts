import { messageOf, RuntimeError } from '../errors.js';
import { Label, labFilter } from '../labels.js';
import type { Runtime } from '../runtime/runtime.js';
import { engineConcurrency, mapLimit } from './limit.js';

/** What a removal removed. */
export interface Removed {
  containers: string[];
  networks: string[];
}

const order: Record<string, number> = { container: 0, sandbox: 1, node: 2 };

/**
 * Removes everything that carries the lab's label (or every lab's, when `lab` is undefined): works
 * after a crash or a half-finished `up`, since it reads what exists rather than what was planned.
 * Keeps going past a failure and reports every one at the end.
 */
export async function removeLab(runtime: Runtime, lab?: string): Promise<Removed> {
  const containers = await runtime.listContainers(labFilter(lab));
  const failures: string[] = [];
  // Pod containers before sandboxes before nodes: each leaves the namespaces it joined first.
  const byRole = [...containers].sort(
    (a, b) => (order[a.labels[Label.role] ?? ''] ?? 0) - (order[b.labels[Label.role] ?? ''] ?? 0),
  );
  await mapLimit(byRole, engineConcurrency, async (c) => {
    await runtime
      .removeContainer(c.id)
      .catch((error: unknown) => failures.push(`container ${c.name}: ${messageOf(error)}`));
  });
  const networks = await runtime.listNetworks(labFilter(lab));
  for (const n of networks) {
    await runtime
      .removeNetwork(n.id)
      .catch((error: unknown) => failures.push(`network ${n.name}: ${messageOf(error)}`));
  }
  if (failures.length) {
    throw new RuntimeError(
      `could not remove everything of ${lab ? `lab ${lab}` : 'the labs'}:\n  ${failures.join('\n  ')}`,
      'run lab down again; if it persists, check the engine (docker ps -a)',
    );
  }
  return { containers: containers.map((c) => c.name), networks: networks.map((n) => n.name) };
}

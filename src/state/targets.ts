import { LabStateError, UsageError } from '../errors.js';
import { Label } from '../labels.js';
import type { ContainerInfo, Runtime } from '../runtime/runtime.js';

/** Finds the container a target names: NODE, NS/POD (its first container) or NS/POD/CONTAINER. */
export function resolveTarget(containers: ContainerInfo[], target: string, lab: string): ContainerInfo {
  const parts = target.split('/');
  const known = () => {
    const nodes = containers.filter((c) => c.labels[Label.role] === 'node').map((c) => c.labels[Label.node]);
    const pods = containers.filter((c) => c.labels[Label.role] === 'sandbox').map((c) => c.labels[Label.pod]);
    return `nodes: ${nodes.sort().join(', ') || 'none'}; pods: ${pods.sort().join(', ') || 'none'}`;
  };
  if (parts.length === 1) {
    const node = containers.find((c) => c.labels[Label.role] === 'node' && c.labels[Label.node] === target);
    if (!node) throw new UsageError(`lab ${lab} has no node "${target}"`, known());
    return node;
  }
  if (parts.length > 3 || parts.some((p) => p === '')) {
    throw new UsageError(`"${target}" is not a target`, 'write NODE, NS/POD or NS/POD/CONTAINER');
  }
  const key = `${parts[0]}/${parts[1]}`;
  const pod = containers.filter((c) => c.labels[Label.role] === 'container' && c.labels[Label.pod] === key);
  if (pod.length === 0) throw new UsageError(`lab ${lab} has no pod ${key}`, known());
  if (parts.length === 2) return pod.sort((a, b) => a.name.localeCompare(b.name))[0]!;
  const container = pod.find((c) => c.labels[Label.container] === parts[2]);
  if (!container) {
    throw new UsageError(
      `pod ${key} has no container "${parts[2]}"`,
      `its containers: ${pod.map((c) => c.labels[Label.container]).join(', ')}`,
    );
  }
  return container;
}

/** The sandbox container of pod `namespace/name` (it holds the pod's network namespace). */
export function sandboxOf(containers: ContainerInfo[], pod: string): ContainerInfo | undefined {
  return containers.find((c) => c.labels[Label.role] === 'sandbox' && c.labels[Label.pod] === pod);
}

/** Every container of a lab; fails when the lab is not up (nothing of it exists). */
export async function labContainersOf(runtime: Runtime, lab: string): Promise<ContainerInfo[]> {
  const containers = await runtime.listContainers({ [Label.lab]: lab });
  if (containers.length === 0) throw new LabStateError(`lab ${lab} is not up`, 'start it with lab up');
  return containers;
}

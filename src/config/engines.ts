import { defaults, type EngineConfig, type Topology } from './types.js';

/** The engine a node runs on: the one it names, else the first listed; undefined when the topology lists none. */
export function engineOfNode(topology: Topology, node: { engine?: string }): string | undefined {
  return node.engine ?? topology.engines[0]?.name;
}

/**
 * The engines the lab runs on, in the order the topology lists them: those that hold a node. The
 * first holds the lab's network, its records and its helpers. Empty when the topology lists none.
 */
export function usedEngines(topology: Topology): EngineConfig[] {
  const used = new Set(topology.nodes.map((n) => engineOfNode(topology, n)));
  return topology.engines.filter((e) => used.has(e.name));
}

/** Whether the lab's nodes sit on two engines or more: a Docker Swarm overlay is then its node network. */
export function spansEngines(topology: Topology): boolean {
  return usedEngines(topology).length > 1;
}

/** The node network's MTU: a Swarm overlay (VXLAN underneath) carries 1450, a bridge network 1500. */
export function nodeNetworkMtu(topology: Topology): number {
  return spansEngines(topology) ? defaults.overlayNetworkMtu : defaults.nodeNetworkMtu;
}

/** `[{"name":"a","host":"…"}]`: a lab's engines as the `io.podlab.engines` label on its objects keeps them. */
export function engineLabel(engines: EngineConfig[]): string {
  return JSON.stringify(engines);
}

/** The engines of an `io.podlab.engines` label; none when it is absent or not one. */
export function parseEngineLabel(text: string | undefined): EngineConfig[] {
  if (!text) return [];
  try {
    const list = JSON.parse(text) as unknown;
    return Array.isArray(list)
      ? list.filter(
          (e): e is EngineConfig =>
            typeof e === 'object' && e !== null && typeof (e as EngineConfig).name === 'string',
        )
      : [];
  } catch {
    return [];
  }
}

import { defaults } from '../config/types.js';

/** Names of the Docker objects of a lab: `podlab-<lab>-…`, so that they sort together and say whose they are. */
export const names = {
  network: (lab: string) => `podlab-${lab}`,
  node: (lab: string, node: string) => `podlab-${lab}-${node}`,
  sandbox: (lab: string, namespace: string, pod: string) => `podlab-${lab}-${namespace}.${pod}`,
  container: (lab: string, namespace: string, pod: string, container: string) =>
    `podlab-${lab}-${namespace}.${pod}.${container}`,
  /** `_` appears in no node, pod or container name, so no topology can take these. */
  publisher: (lab: string) => `podlab-${lab}_publish`,
} as const;

/**
 * Paths and names inside a node that podlab and its node agent (templates/node/bin/podlab-agent)
 * share. This is their one source: every agent call passes them (agentEnv in agent/agent.ts), and
 * the agent hard-codes none of them (a contract test reads the agent to hold both sides to it).
 */
export const nodePaths = {
  /** Where each node keeps its CNI network configuration. */
  cniConfig: '/etc/cni/net.d/10-podlab.conf',
  /** Where Debian's containernetworking-plugins puts the plugin binaries. */
  cniBin: '/usr/lib/cni',
  /** The topology hash, written once `up` has finished on the node. */
  ready: '/run/podlab/ready',
  /** The PIDs of the probe listeners that `lab test` started. */
  probes: '/run/podlab/probes',
  /** Classroom progress, kept in the lab's first node. */
  progress: '/var/lib/podlab/exercises.json',
} as const;

/** Where each node keeps its CNI network configuration. */
export const cniConfigPath = nodePaths.cniConfig;
/** Environment marker of a pod sandbox; the node finds the sandbox's PID by it. */
export const podMarker = 'PODLAB_POD';
/** The image name a topology uses for podlab's own node image. */
export const nodeImageName = defaults.image;
/** Capabilities of a node container (DESIGN.md: never --privileged). */
export const nodeCapabilities = ['NET_ADMIN', 'SYS_ADMIN', 'NET_RAW'] as const;

/** How a container is attached to networks. */
export type NetworkMode =
  | { mode: 'bridge'; network: string; ip: string }
  | { mode: 'none' }
  | { mode: 'container'; container: string };

/** A container as the runtime should create it; runtime-neutral, so the plan stays free of dockerode. */
export interface ContainerSpec {
  name: string;
  image: string;
  hostname?: string;
  labels: Record<string, string>;
  env: Record<string, string>;
  cmd: string[];
  network: NetworkMode;
  /** Join the PID namespace of this container (the node, for pod sandboxes). */
  pidContainer?: string;
  capAdd: string[];
  sysctls: Record<string, string>;
  /** Resolver written to /etc/resolv.conf. */
  dns?: { servers: string[]; search: string[]; options: string[] };
}

/** A Docker network the lab creates. */
export interface NetworkSpec {
  name: string;
  subnet: string;
  gateway: string;
  labels: Record<string, string>;
}

/** One node of the lab: a container that is its own network namespace and hosts pods. */
export interface NodePlan {
  name: string;
  ip: string;
  podCIDR: string;
  /** The bridge's address: the default gateway of this node's pods. */
  podGateway: string;
  container: ContainerSpec;
  /** The CNI network configuration written to `cniConfigPath`. */
  cniConfig: Record<string, unknown>;
  /** Lines for `ip -batch -`: routes to other nodes' pod ranges, then containment. */
  routes: string[];
}

/** One pod: a sandbox that holds the network namespace, and the containers that join it. */
export interface PodPlan {
  namespace: string;
  name: string;
  /** `namespace/name`: the marker the node finds the sandbox by. */
  key: string;
  node: string;
  labels: Record<string, string>;
  sandbox: ContainerSpec;
  containers: ContainerSpec[];
}

/** Everything `up` creates, computed without touching Docker. */
export interface LabPlan {
  name: string;
  topologyHash: string;
  image: string;
  domain: string;
  podCIDR: string;
  serviceCIDR: string;
  network: NetworkSpec;
  nodes: NodePlan[];
  pods: PodPlan[];
}

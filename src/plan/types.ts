import type { OverlayPlan } from './overlay.js';
import type { PolicyView } from './policy.js';
import type { PublishedPort } from './publish.js';
/** How a container is attached to networks. */
export type NetworkMode =
  | { mode: 'bridge'; network: string; ip: string }
  | { mode: 'none' }
  | { mode: 'container'; container: string }
  /** The engine host's own network namespace (short-lived helpers that read the engine host). */
  | { mode: 'host' };

/** A container as the runtime should create it; runtime-neutral, so the plan stays free of dockerode. */
export interface ContainerSpec {
  name: string;
  image: string;
  hostname?: string;
  labels: Record<string, string>;
  env: Record<string, string>;
  /** Replaces the image's ENTRYPOINT (Kubernetes' `command`); absent: the image's own. */
  entrypoint?: string[];
  /** Replaces the image's CMD (Kubernetes' `args`); absent: the image's own (unless `entrypoint` is set). */
  cmd?: string[];
  workingDir?: string;
  /** When the engine fetches the image (absent: podlab's own image, always built locally). */
  pull?: 'Never' | 'IfNotPresent' | 'Always';
  network: NetworkMode;
  /** Join the PID namespace of this container (the node, for pod sandboxes). */
  pidContainer?: string;
  capAdd: string[];
  sysctls: Record<string, string>;
  /** Resolver written to /etc/resolv.conf. */
  dns?: { servers: string[]; search: string[]; options: string[] };
  /** `/etc/hosts` entries as `name:ip`. */
  extraHosts?: string[];
  /** The engine removes it once it stops (short-lived helpers: nothing is left if podlab dies). */
  autoRemove?: boolean;
  /** Ports the engine publishes on its host: `hostIP:hostPort` to this container's `port`. */
  publish?: { port: number; protocol: 'TCP' | 'UDP'; hostIP: string; hostPort: number }[];
}

/** A Docker network the lab creates. */
export interface NetworkSpec {
  name: string;
  subnet: string;
  gateway: string;
  labels: Record<string, string>;
  /** `overlay`: an attachable Docker Swarm overlay across the lab's engines; default a bridge network. */
  driver?: 'bridge' | 'overlay';
  /**
   * Where the engine hands out addresses by itself (an overlay gives each engine one for its load
   * balancer, and helpers get theirs there): kept clear of the addresses the plan gives.
   */
  ipRange?: string;
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
  /** With cni.backend vxlan: the node's VXLAN device, neighbour and FDB entries (overlay.ts). */
  overlay?: OverlayPlan;
  /** The NetworkPolicy rules for this node's pods (policy.ts), as `iptables-restore --noflush` input. */
  policyRules: string;
}

/** One pod: a sandbox that holds the network namespace, and the containers that join it. */
export interface PodPlan {
  namespace: string;
  name: string;
  /** `namespace/name`: the marker the node finds the sandbox by. */
  key: string;
  node: string;
  /** The address the plan gives the pod; the CNI plugin is asked for exactly this one. */
  ip: string;
  labels: Record<string, string>;
  /** Named container ports, for Services whose targetPort is a name. */
  ports: Record<string, number>;
  /** Every declared container port: what NetworkPolicy named ports resolve to and the network-policy check probes. */
  containerPorts: { name?: string; port: number; protocol: 'TCP' | 'UDP' }[];
  sandbox: ContainerSpec;
  containers: ContainerSpec[];
  /** The pod runs to completion (restartPolicy OnFailure or Never): its containers may exit. */
  oneShot: boolean;
}

/** One endpoint of a Service: a ready pod that its selector picks. */
export interface EndpointPlan {
  pod: string;
  /** The pod's name: its hostname in headless Service records. */
  hostname: string;
  ip: string;
  node: string;
}

/** One port of a Service and the endpoints serving it, each at its resolved target port. */
export interface ServicePortPlan {
  name?: string;
  port: number;
  protocol: 'TCP' | 'UDP';
  nodePort?: number;
  /** Published on the engine host at hostIP:hostPort. */
  hostPort?: number;
  hostIP?: string;
  targetPort: number | string;
  endpoints: (EndpointPlan & { port: number })[];
}

/** A Service with its address and endpoints, as kube-proxy and the DNS server see it. */
export interface ServicePlan {
  namespace: string;
  name: string;
  key: string;
  type: 'ClusterIP' | 'NodePort' | 'ExternalName';
  /** An address, `None` for headless, `''` for ExternalName. */
  clusterIP: string;
  externalName?: string;
  selector: Record<string, string>;
  ports: ServicePortPlan[];
  /** The selected pods that serve at least one port (serviceEndpoints): what kube-proxy routes to. */
  endpoints: EndpointPlan[];
}

/** Where cluster DNS lives. */
export interface DnsPlan {
  clusterIP: string;
  /** `kube-system/kube-dns-0`. */
  pod: string;
  node: string;
  podIP: string;
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
  nodeSubnet: string;
  nodes: NodePlan[];
  /** Every pod, the DNS pod last. */
  pods: PodPlan[];
  services: ServicePlan[];
  /** kube-proxy's rules for every node, as `iptables-restore --noflush` input. */
  serviceRules: string;
  /** The lab's NetworkPolicies with what judging them needs (policy.ts); each node's rules are on the node. */
  policy: PolicyView;
  dns: DnsPlan;
  /** Service ports published on the engine host (hostPort), and the container that publishes them. */
  published: PublishedPort[];
  publisher?: PublisherPlan;
}

/** The container that holds a lab's host ports and sends their connections on to the Services. */
export interface PublisherPlan {
  container: ContainerSpec;
  ip: string;
  /** `ip -batch` lines: the Service range via the first node. */
  routes: string[];
  /** Its nat rules (publish.ts), loaded with the hooks of `publishHooks`. */
  rules: string;
}

/** The topology after decoding, defaulting and validation: every optional field that has a default is set. */
export interface Topology {
  apiVersion: 'podlab/v1';
  name: string;
  cluster: ClusterConfig;
  cni: CniConfig;
  dns: DnsConfig;
  /** The Docker engines the lab spans (empty: one engine, found as the docker CLI finds it). */
  engines: EngineConfig[];
  nodes: NodeConfig[];
  pods: PodConfig[];
  services: ServiceConfig[];
  /** Namespaces with labels, for NetworkPolicy namespaceSelectors (others exist with their name label only). */
  namespaces: NamespaceConfig[];
  /** NetworkPolicy manifests (networking.k8s.io/v1), normalised: files read, defaults filled. */
  networkPolicies: NetworkPolicyConfig[];
  /** Absolute paths of exercise modules. */
  exercises: string[];
}

export interface ClusterConfig {
  domain: string;
  podCIDR: string;
  nodeMaskSize: number;
  serviceCIDR: string;
  /** Absent: a free subnet is picked when the lab comes up. */
  nodeSubnet?: string;
}

export interface CniConfig {
  bridge: string;
  mtu?: number;
  /** How pod traffic crosses nodes (flannel's backends): routes via node IPs, or a VXLAN overlay. */
  backend: CniBackend;
  /** With backend vxlan (defaults filled then): its network identifier and UDP port. */
  vxlan?: { vni: number; port: number };
}

export type CniBackend = 'host-gw' | 'vxlan';

export interface DnsConfig {
  clusterIP: string;
  upstream: string[];
}

export interface NodeConfig {
  name: string;
  podCIDR?: string;
  /** The engine (of `engines`) the node runs on; absent: the first. */
  engine?: string;
}

/** One Docker engine of a lab that spans several (joined in one Docker Swarm). */
export interface EngineConfig {
  name: string;
  /** unix://, tcp:// or ssh://; absent: the engine the CLI finds by default (DOCKER_HOST, context, socket). */
  host?: string;
  /** With tcp://: TLS, with ca.pem, cert.pem and key.pem from certPath. */
  tls?: boolean;
  certPath?: string;
}

/** As in Kubernetes: Always (the containers serve), or OnFailure/Never (the pod runs to completion). */
export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';
/** As in Kubernetes: when the engine fetches a container's image. */
export type PullPolicy = 'Never' | 'IfNotPresent' | 'Always';

export interface PodConfig {
  name: string;
  namespace: string;
  node?: string;
  replicas?: number;
  labels: Record<string, string>;
  image?: string;
  restartPolicy: RestartPolicy;
  containers: ContainerConfig[];
}

export interface ContainerConfig {
  name: string;
  image?: string;
  /** Replaces the image's ENTRYPOINT. */
  command?: string[];
  /** Replaces the image's CMD. */
  args?: string[];
  workingDir?: string;
  imagePullPolicy: PullPolicy;
  env: Record<string, string>;
  ports: ContainerPortConfig[];
}

export interface ContainerPortConfig {
  name?: string;
  containerPort: number;
  protocol: 'TCP' | 'UDP';
}

export type ServiceType = 'ClusterIP' | 'NodePort' | 'ExternalName';

export interface ServiceConfig {
  name: string;
  namespace: string;
  type: ServiceType;
  /** An address, `None` (headless) or absent (allocated). */
  clusterIP?: string;
  externalName?: string;
  selector: Record<string, string>;
  ports: ServicePortConfig[];
}

export interface ServicePortConfig {
  name?: string;
  port: number;
  targetPort: number | string;
  protocol: 'TCP' | 'UDP';
  nodePort?: number;
  /** Publishes this port on the engine host (`curl localhost:N` on a laptop with Docker Desktop). */
  hostPort?: number;
  /** The engine host's address it is published on: 127.0.0.1 unless written out (0.0.0.0: every address). */
  hostIP?: string;
}

export interface NamespaceConfig {
  name: string;
  /** `kubernetes.io/metadata.name: NAME` is added by podlab, as the API server does. */
  labels: Record<string, string>;
}

/** A Kubernetes label selector: every matchLabels pair and every expression must hold; `{}` selects all. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: SelectorRequirement[];
}

export interface SelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

/** One `from` / `to` peer: pods (by selectors), or addresses (ipBlock). */
export interface PolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}

export interface PolicyPort {
  protocol: 'TCP' | 'UDP';
  /** A number, or a container port's name; absent: every port. */
  port?: number | string;
  /** With a numeric port: the last port of the range. */
  endPort?: number;
}

/** A NetworkPolicy as a manifest, normalised: `policyTypes` filled, ingress `from` / egress `to` kept as written. */
export interface NetworkPolicyConfig {
  apiVersion: 'networking.k8s.io/v1';
  kind: 'NetworkPolicy';
  metadata: { name: string; namespace: string };
  spec: {
    podSelector: LabelSelector;
    policyTypes: ('Ingress' | 'Egress')[];
    /** Each rule admits traffic from any of its peers on any of its ports (absent or empty: all). */
    ingress?: { from?: PolicyPeer[]; ports?: PolicyPort[] }[];
    egress?: { to?: PolicyPeer[]; ports?: PolicyPort[] }[];
  };
}

/** The label the API server gives every namespace: what namespaceSelectors usually match. */
export const namespaceNameLabel = 'kubernetes.io/metadata.name';

/** Defaults of format podlab/v1; changing one changes labs that omit it, so they are part of the format. */
export const defaults = {
  domain: 'cluster.local',
  podCIDR: '10.244.0.0/16',
  nodeMaskSize: 24,
  serviceCIDR: '10.96.0.0/12',
  bridge: 'cni0',
  dnsClusterIP: '10.96.0.10',
  namespace: 'default',
  containerName: 'main',
  /** The image name that means podlab's own node image (its tag is podlab's to choose). */
  image: 'podlab-node',
  restartPolicy: 'Always',
  imagePullPolicy: 'IfNotPresent',
  /** Where a Service port's hostPort is published unless hostIP says otherwise: never beyond the host. */
  hostIP: '127.0.0.1',
  backend: 'host-gw',
  /** flannel's defaults for its vxlan backend. */
  vxlan: { vni: 1, port: 8472 },
  /** The MTU of the node network (a Docker bridge network's default). */
  nodeNetworkMtu: 1500,
  /** The MTU of a Docker Swarm overlay network (the node network of a lab that spans engines). */
  overlayNetworkMtu: 1450,
  /** What VXLAN adds to a packet: outer IPv4, UDP, VXLAN and Ethernet headers. */
  vxlanOverhead: 50,
} as const;

/** NodePort range of a default Kubernetes API server. */
export const nodePortRange = { min: 30000, max: 32767 } as const;

/**
 * The Service and pod podlab adds for cluster DNS, as Kubernetes' kube-dns add-on does. Their names
 * and the pod's label are reserved: a topology may not use them in kube-system.
 */
export const dnsService = {
  namespace: 'kube-system',
  name: 'kube-dns',
  podName: 'kube-dns-0',
  app: 'kube-dns',
  /** The label that the kube-dns Service selects its pod by. */
  labelKey: 'k8s-app',
} as const;

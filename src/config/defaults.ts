import { dirname, resolve } from 'node:path';
import { defaults, type NetworkPolicyConfig, type PolicyPort, type Topology } from './types.js';
import type { RawTopology } from './validate.js';

/** The topology with every default of podlab/v1 filled in; exercise paths made absolute (relative to the file). */
export function withDefaults(raw: RawTopology, file: string): Topology {
  const base = dirname(resolve(file));
  return {
    apiVersion: raw.apiVersion,
    name: raw.name,
    cluster: {
      domain: raw.cluster?.domain ?? defaults.domain,
      podCIDR: raw.cluster?.podCIDR ?? defaults.podCIDR,
      nodeMaskSize: raw.cluster?.nodeMaskSize ?? defaults.nodeMaskSize,
      serviceCIDR: raw.cluster?.serviceCIDR ?? defaults.serviceCIDR,
      ...(raw.cluster?.nodeSubnet !== undefined ? { nodeSubnet: raw.cluster.nodeSubnet } : {}),
    },
    cni: {
      bridge: raw.cni?.bridge ?? defaults.bridge,
      ...(raw.cni?.mtu !== undefined ? { mtu: raw.cni.mtu } : {}),
      backend: raw.cni?.backend ?? defaults.backend,
      ...(raw.cni?.backend === 'vxlan'
        ? {
            vxlan: {
              vni: raw.cni.vxlan?.vni ?? defaults.vxlan.vni,
              port: raw.cni.vxlan?.port ?? defaults.vxlan.port,
            },
          }
        : raw.cni?.vxlan !== undefined
          ? {
              vxlan: {
                vni: raw.cni.vxlan.vni ?? defaults.vxlan.vni,
                port: raw.cni.vxlan.port ?? defaults.vxlan.port,
              },
            }
          : {}),
    },
    dns: { clusterIP: raw.dns?.clusterIP ?? defaults.dnsClusterIP, upstream: raw.dns?.upstream ?? [] },
    engines: (raw.engines ?? []).map((e) => ({ ...e })),
    nodes: raw.nodes.map((n) => ({ ...n })),
    pods: (raw.pods ?? []).map((p) => ({
      ...p,
      namespace: p.namespace ?? defaults.namespace,
      labels: p.labels ?? {},
      restartPolicy: p.restartPolicy ?? defaults.restartPolicy,
      containers: (p.containers ?? [{ name: defaults.containerName }]).map((c) => ({
        ...c,
        imagePullPolicy: c.imagePullPolicy ?? defaults.imagePullPolicy,
        env: c.env ?? {},
        ports: (c.ports ?? []).map((port) => ({ ...port, protocol: port.protocol ?? 'TCP' })),
      })),
    })),
    services: (raw.services ?? []).map((s) => ({
      ...s,
      namespace: s.namespace ?? defaults.namespace,
      type: s.type ?? 'ClusterIP',
      selector: s.selector ?? {},
      ports: (s.ports ?? []).map((p) => ({
        ...p,
        protocol: p.protocol ?? 'TCP',
        targetPort: p.targetPort ?? p.port,
        ...(p.hostPort !== undefined ? { hostIP: p.hostIP ?? defaults.hostIP } : {}),
      })),
    })),
    namespaces: (raw.namespaces ?? []).map((n) => ({ name: n.name, labels: n.labels ?? {} })),
    networkPolicies: (raw.networkPolicies ?? []).map(policyWithDefaults),
    exercises: (raw.exercises ?? []).map((e) => resolve(base, e)),
  };
}

/**
 * A NetworkPolicy manifest with the API server's defaults: namespace `default`, protocol TCP, and
 * policyTypes Ingress, plus Egress when the policy has egress rules. Only name and namespace of the
 * metadata are kept (labels and annotations change no traffic).
 */
export function policyWithDefaults(raw: RawNetworkPolicy): NetworkPolicyConfig {
  const ports = (list?: RawPolicyPort[]): { ports?: PolicyPort[] } =>
    list ? { ports: list.map((p) => ({ ...p, protocol: p.protocol ?? 'TCP' })) } : {};
  const spec = raw.spec;
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: raw.metadata.name, namespace: raw.metadata.namespace ?? defaults.namespace },
    spec: {
      podSelector: spec.podSelector,
      policyTypes: spec.policyTypes ?? ['Ingress', ...(spec.egress?.length ? (['Egress'] as const) : [])],
      ...(spec.ingress
        ? { ingress: spec.ingress.map((r) => ({ ...(r.from ? { from: r.from } : {}), ...ports(r.ports) })) }
        : {}),
      ...(spec.egress
        ? { egress: spec.egress.map((r) => ({ ...(r.to ? { to: r.to } : {}), ...ports(r.ports) })) }
        : {}),
    },
  };
}

type RawPolicyPort = Omit<PolicyPort, 'protocol'> & { protocol?: PolicyPort['protocol'] };

/** A NetworkPolicy as the schema lets it through. */
export interface RawNetworkPolicy {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string };
  spec: {
    podSelector: NetworkPolicyConfig['spec']['podSelector'];
    policyTypes?: NetworkPolicyConfig['spec']['policyTypes'];
    ingress?: {
      from?: NonNullable<NetworkPolicyConfig['spec']['ingress']>[number]['from'];
      ports?: RawPolicyPort[];
    }[];
    egress?: {
      to?: NonNullable<NetworkPolicyConfig['spec']['egress']>[number]['to'];
      ports?: RawPolicyPort[];
    }[];
  };
}

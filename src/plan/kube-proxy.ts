import { createHash } from 'node:crypto';
import type { ServicePlan, ServicePortPlan } from './types.js';

/** The mark kube-proxy sets on packets that need masquerading. */
export const masqueradeMark = '0x4000/0x4000';

/** Chain names as kube-proxy makes them: a prefix and a hash of what the chain is for. */
export function chainName(prefix: 'KUBE-SVC' | 'KUBE-EXT' | 'KUBE-SEP', ...parts: string[]): string {
  const hash = createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 16).toUpperCase();
  return `${prefix}-${hash}`;
}

/** `bar/foo:http`, or `bar/foo` for an unnamed port: how kube-proxy's comments name a Service port. */
function portLabel(svc: ServicePlan, port: ServicePortPlan): string {
  return port.name ? `${svc.key}:${port.name}` : svc.key;
}

/**
 * Jumps from the built-in chains into podlab's, as `table chain target [new]` lines (`new`: only for
 * connections' first packets). Added once each by podlab-agent, since iptables-restore --noflush
 * would append them again on every run.
 */
export const serviceHooks: readonly string[] = [
  'nat PREROUTING KUBE-SERVICES',
  'nat OUTPUT KUBE-SERVICES',
  'nat POSTROUTING KUBE-POSTROUTING',
  'nat POSTROUTING PODLAB-EGRESS',
  'filter INPUT KUBE-EXTERNAL-SERVICES new',
  'filter FORWARD KUBE-SERVICES new',
  'filter OUTPUT KUBE-SERVICES new',
];

/** Ranges that pod traffic reaches without masquerade: everything inside the lab. */
export interface ClusterRanges {
  podCIDR: string;
  serviceCIDR: string;
  nodeSubnet: string;
}

/**
 * The nat and filter rules of kube-proxy's iptables mode for every Service, as one
 * `iptables-restore --noflush` input (every chain it declares is flushed and rewritten, so applying
 * it again converges). Pod-to-pod and pod-to-Service traffic is never masqueraded; only hairpin
 * traffic, NodePort traffic and traffic from outside the pod range to a ClusterIP are. Pods reach
 * addresses outside the lab through their node's address (what ip-masq-agent does).
 */
export function renderServiceRules(services: ServicePlan[], ranges: ClusterRanges): string {
  const chains = new Set<string>([
    'KUBE-SERVICES',
    'KUBE-NODEPORTS',
    'KUBE-POSTROUTING',
    'KUBE-MARK-MASQ',
    'PODLAB-EGRESS',
  ]);
  const nat: string[] = [
    `-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000`,
    `-A KUBE-POSTROUTING -m mark ! --mark ${masqueradeMark} -j RETURN`,
    `-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000`,
    `-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE`,
    `-A PODLAB-EGRESS ! -s ${ranges.podCIDR} -j RETURN`,
    `-A PODLAB-EGRESS -d ${ranges.podCIDR} -j RETURN`,
    `-A PODLAB-EGRESS -d ${ranges.nodeSubnet} -j RETURN`,
    `-A PODLAB-EGRESS -d ${ranges.serviceCIDR} -j RETURN`,
    `-A PODLAB-EGRESS -m comment --comment "pods to outside the lab leave with their node's address" -j MASQUERADE`,
  ];
  const filterChains = new Set<string>(['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES']);
  const filter: string[] = [];
  const nodePorts: string[] = [];

  for (const svc of services) {
    if (svc.type === 'ExternalName' || svc.clusterIP === 'None' || svc.clusterIP === '') continue;
    for (const port of svc.ports) {
      const label = portLabel(svc, port);
      const proto = port.protocol.toLowerCase();
      const match = `-p ${proto} -m ${proto}`;
      if (port.endpoints.length === 0) {
        // No endpoints: refuse at once instead of letting the client wait.
        filter.push(
          `-A KUBE-SERVICES -d ${svc.clusterIP}/32 ${match} --dport ${port.port} -m comment --comment "${label} has no endpoints" -j REJECT --reject-with icmp-port-unreachable`,
        );
        if (port.nodePort !== undefined) {
          filter.push(
            `-A KUBE-EXTERNAL-SERVICES -m addrtype --dst-type LOCAL ${match} --dport ${port.nodePort} -m comment --comment "${label} has no endpoints" -j REJECT --reject-with icmp-port-unreachable`,
          );
        }
        continue;
      }
      const svcChain = chainName('KUBE-SVC', label, port.protocol);
      chains.add(svcChain);
      nat.push(
        `-A KUBE-SERVICES -d ${svc.clusterIP}/32 ${match} --dport ${port.port} -m comment --comment "${label} cluster IP" -j ${svcChain}`,
      );
      nat.push(
        `-A ${svcChain} ! -s ${ranges.podCIDR} -d ${svc.clusterIP}/32 ${match} --dport ${port.port} -m comment --comment "${label} cluster IP" -j KUBE-MARK-MASQ`,
      );
      if (port.nodePort !== undefined) {
        const extChain = chainName('KUBE-EXT', label, port.protocol);
        chains.add(extChain);
        nodePorts.push(
          `-A KUBE-NODEPORTS ${match} --dport ${port.nodePort} -m comment --comment "${label}" -j ${extChain}`,
        );
        nat.push(
          `-A ${extChain} -m comment --comment "masquerade traffic for ${label} external destinations" -j KUBE-MARK-MASQ`,
        );
        nat.push(`-A ${extChain} -j ${svcChain}`);
      }
      const n = port.endpoints.length;
      port.endpoints.forEach((ep, i) => {
        const sepChain = chainName('KUBE-SEP', label, port.protocol, `${ep.ip}:${ep.port}`);
        chains.add(sepChain);
        // Endpoint i of n is picked with probability 1/(n-i): an even spread, as kube-proxy writes it.
        const spread =
          i < n - 1 ? ` -m statistic --mode random --probability ${(1 / (n - i)).toFixed(10)}` : '';
        nat.push(
          `-A ${svcChain} -m comment --comment "${label} -> ${ep.ip}:${ep.port}"${spread} -j ${sepChain}`,
        );
        nat.push(`-A ${sepChain} -s ${ep.ip}/32 -m comment --comment "${label}" -j KUBE-MARK-MASQ`);
        nat.push(
          `-A ${sepChain} ${match} -m comment --comment "${label}" -j DNAT --to-destination ${ep.ip}:${ep.port}`,
        );
      });
    }
  }
  nat.push(...nodePorts);
  nat.push(
    `-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS`,
  );

  return [
    '*nat',
    ...[...chains].map((c) => `:${c} - [0:0]`),
    ...nat,
    'COMMIT',
    '*filter',
    ...[...filterChains].map((c) => `:${c} - [0:0]`),
    ...filter,
    'COMMIT',
    '',
  ].join('\n');
}

/**
 * The rules of `to` for a node that holds the rules of `from`: the chains `from` declared that `to`
 * no longer has (Services, ports or endpoints gone) are flushed and deleted in the same
 * transaction, as kube-proxy deletes stale chains.
 */
export function reloadServiceRules(from: string, to: string): string {
  const natChains = (rules: string) => {
    const nat = rules.split('*nat')[1]?.split('COMMIT')[0] ?? '';
    return [...nat.matchAll(/^:(\S+) /gm)].map((m) => m[1]!);
  };
  const keep = new Set(natChains(to));
  const stale = natChains(from).filter((c) => !keep.has(c));
  if (stale.length === 0) return to;
  const at = to.indexOf('COMMIT');
  return `${to.slice(0, at)}${stale.map((c) => `:${c} - [0:0]`).join('\n')}\n${stale.map((c) => `-X ${c}`).join('\n')}\n${to.slice(at)}`;
}

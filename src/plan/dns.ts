import type { Topology } from '../config/types.js';
import type { PodPlan, ServicePlan } from './types.js';

/** Version of the Kubernetes DNS-Based Service Discovery specification the records follow. */
export const dnsSchemaVersion = '1.0.1';

/** `10.244.1.2` → `10-244-1-2`: the first label of a pod record. */
export function podRecordLabel(ip: string): string {
  return ip.replace(/\./g, '-');
}

/** `10.244.1.2` → `2.1.244.10.in-addr.arpa`. */
export function reverseName(ip: string): string {
  return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
}

/**
 * The DNS server's whole configuration as dnsmasq arguments: every record the Kubernetes DNS
 * specification requires, answered authoritatively for the cluster domain. Order matters where a
 * PTR is concerned (dnsmasq answers the first name registered for an address), so headless
 * endpoints and Services come before pod records.
 */
export function dnsmasqArgs(topology: Topology, services: ServicePlan[], pods: PodPlan[]): string[] {
  const zone = topology.cluster.domain;
  const svcName = (s: ServicePlan) => `${s.name}.${s.namespace}.svc.${zone}`;
  const args = [
    '--keep-in-foreground',
    '--log-facility=-',
    '--user=root',
    '--no-hosts',
    '--no-resolv',
    // Never forward a bare name or a private-range reverse lookup; answer the cluster domain only from here.
    '--domain-needed',
    '--bogus-priv',
    `--local=/${zone}/`,
    '--local-ttl=5',
    `--txt-record=dns-version.${zone},${dnsSchemaVersion}`,
  ];
  const headlessIps = new Set<string>();
  for (const s of services) {
    if (s.type === 'ExternalName') {
      args.push(`--cname=${svcName(s)},${s.externalName}`);
    } else if (s.clusterIP === 'None') {
      for (const ep of s.endpoints) {
        args.push(
          `--host-record=${ep.hostname}.${svcName(s)},${ep.ip}`,
          `--host-record=${svcName(s)},${ep.ip}`,
        );
        headlessIps.add(ep.ip);
      }
      for (const port of s.ports) {
        if (!port.name) continue;
        for (const ep of port.endpoints) {
          args.push(
            `--srv-host=_${port.name}._${port.protocol.toLowerCase()}.${svcName(s)},${ep.hostname}.${svcName(s)},${ep.port},10,100`,
          );
        }
      }
    } else {
      args.push(`--host-record=${svcName(s)},${s.clusterIP}`);
      for (const port of s.ports) {
        if (port.name)
          args.push(
            `--srv-host=_${port.name}._${port.protocol.toLowerCase()}.${svcName(s)},${svcName(s)},${port.port},10,100`,
          );
      }
    }
  }
  for (const pod of pods) {
    if (!headlessIps.has(pod.ip))
      args.push(`--ptr-record=${reverseName(pod.ip)},${podRecordLabel(pod.ip)}.${pod.namespace}.pod.${zone}`);
  }
  // `<a>-<b>-<c>-<d>.<ns>.pod.<zone>` answers for any address (specification, 2.6).
  const namespaces = new Set([
    'default',
    'kube-system',
    ...pods.map((p) => p.namespace),
    ...services.map((s) => s.namespace),
  ]);
  for (const ns of [...namespaces].sort())
    args.push(`--synth-domain=${ns}.pod.${zone},0.0.0.0,255.255.255.255`);
  for (const server of topology.dns.upstream) args.push(`--server=${server}`);
  return args;
}

import { formatIp, hostAt, parseCidr, size } from '../net/ipv4.js';
import type { ServicePlan } from './types.js';

/** A Service port published on the engine host. */
export interface PublishedPort {
  service: string;
  port: number;
  protocol: 'TCP' | 'UDP';
  hostIP: string;
  hostPort: number;
  clusterIP: string;
}

/** The address of the publisher on the node network: the subnet's last usable one, clear of the nodes. */
export function publisherAddress(nodeSubnet: string): string {
  const subnet = parseCidr(nodeSubnet);
  return formatIp(hostAt(subnet, size(subnet) - 2));
}

/** Chains of the publisher's rules, hooked into PREROUTING and POSTROUTING. */
export const publishHooks: readonly string[] = [
  'nat PREROUTING PODLAB-PUBLISH',
  'nat POSTROUTING PODLAB-PUBLISH-MASQ',
];

/**
 * The publisher's nat rules (iptables-restore --noflush input): a connection the engine delivers to
 * the publisher on a host port goes on to its Service's ClusterIP, from the publisher's own address.
 * The first node routes it into the Service (kube-proxy masquerades traffic from outside the pod
 * range to a ClusterIP, so the reply comes back the same way).
 */
export function publishRules(ports: PublishedPort[]): string {
  return [
    '*nat',
    ':PODLAB-PUBLISH - [0:0]',
    ':PODLAB-PUBLISH-MASQ - [0:0]',
    ...ports.map((p) => {
      const proto = p.protocol.toLowerCase();
      return `-A PODLAB-PUBLISH -p ${proto} -m ${proto} --dport ${p.hostPort} -m comment --comment "${p.service}:${p.port} on ${p.hostIP}:${p.hostPort}" -j DNAT --to-destination ${p.clusterIP}:${p.port}`;
    }),
    '-A PODLAB-PUBLISH-MASQ -m conntrack --ctstate DNAT -j MASQUERADE',
    'COMMIT',
    '',
  ].join('\n');
}

/** The Service ports a lab publishes (those with a hostPort). */
export function publishedPorts(services: ServicePlan[]): PublishedPort[] {
  return services.flatMap((s) =>
    s.ports.flatMap((p) =>
      p.hostPort === undefined
        ? []
        : [
            {
              service: s.key,
              port: p.port,
              protocol: p.protocol,
              clusterIP: s.clusterIP,
              hostIP: p.hostIP ?? '127.0.0.1',
              hostPort: p.hostPort,
            },
          ],
    ),
  );
}

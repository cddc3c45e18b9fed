import { cidrProblem, overlaps, parseCidr, parseIp, size } from '../net/ipv4.js';
import { count } from '../text.js';
import { nodeNetworkMtu, spansEngines } from './engines.js';
import type { PathPart } from './path.js';
import { defaults, type Topology } from './types.js';
import {
  checkName,
  dns1123Label,
  interfaceName,
  nameLimits,
  type Report,
  usableIn,
} from './validate-names.js';

/** What the later topics need to know of the cluster section. */
export interface ClusterFacts {
  /** cluster.podCIDR is a valid CIDR. */
  podOk: boolean;
  /** cluster.serviceCIDR, when valid. */
  service: ReturnType<typeof parseCidr> | undefined;
  /** dns.clusterIP, when an address. */
  dnsIp: number | undefined;
}

/** The lab's name, the cluster's domain and ranges, the CNI bridge and the DNS address. */
export function checkCluster(topology: Topology, report: Report): ClusterFacts {
  checkName(report, ['name'], topology.name, nameLimits.lab, 'lab name', dns1123Label);
  const { cluster } = topology;
  if (
    !/^([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(cluster.domain) ||
    cluster.domain.length > 253
  ) {
    report(
      ['cluster', 'domain'],
      `"${cluster.domain}" is not a DNS domain (lowercase labels joined by dots)`,
    );
  }

  const cidrs: { path: PathPart[]; name: string; text: string }[] = [
    { path: ['cluster', 'podCIDR'], name: 'cluster.podCIDR', text: cluster.podCIDR },
    { path: ['cluster', 'serviceCIDR'], name: 'cluster.serviceCIDR', text: cluster.serviceCIDR },
  ];
  if (cluster.nodeSubnet !== undefined) {
    cidrs.push({ path: ['cluster', 'nodeSubnet'], name: 'cluster.nodeSubnet', text: cluster.nodeSubnet });
  }
  const cidrOk = new Map<string, boolean>();
  for (const c of cidrs) {
    const problem = cidrProblem(c.text);
    cidrOk.set(c.name, !problem);
    if (problem) report(c.path, problem);
  }
  for (let i = 0; i < cidrs.length; i++) {
    for (let j = i + 1; j < cidrs.length; j++) {
      const a = cidrs[i]!;
      const b = cidrs[j]!;
      if (cidrOk.get(a.name) && cidrOk.get(b.name) && overlaps(parseCidr(a.text), parseCidr(b.text))) {
        report(b.path, `${b.text} overlaps ${a.name} ${a.text}; the ranges must be disjoint`);
      }
    }
  }

  const podOk = cidrOk.get('cluster.podCIDR') === true;
  if (podOk && cluster.nodeMaskSize < parseCidr(cluster.podCIDR).bits) {
    report(
      ['cluster', 'nodeMaskSize'],
      `/${cluster.nodeMaskSize} is wider than cluster.podCIDR ${cluster.podCIDR}; use a prefix of at least /${parseCidr(cluster.podCIDR).bits}`,
    );
  }
  if (cluster.nodeSubnet !== undefined && cidrOk.get('cluster.nodeSubnet')) {
    const hosts = size(parseCidr(cluster.nodeSubnet)) - 3;
    // Published host ports need one more address on the node network: their publisher's.
    const publisher = topology.services.some((svc) => svc.ports.some((p) => p.hostPort !== undefined))
      ? 1
      : 0;
    if (hosts < topology.nodes.length + publisher) {
      report(
        ['cluster', 'nodeSubnet'],
        `${cluster.nodeSubnet} holds ${count(Math.max(0, hosts), 'node')} besides its gateway; this lab has ${topology.nodes.length}${publisher ? ' and the publisher of its hostPorts' : ''}`,
      );
    }
  }

  checkName(
    report,
    ['cni', 'bridge'],
    topology.cni.bridge,
    nameLimits.interface,
    'interface name',
    interfaceName,
    'letters, digits, - and _ (Linux interface names are at most 15 characters)',
  );
  if (['eth0', 'lo'].includes(topology.cni.bridge))
    report(
      ['cni', 'bridge'],
      `"${topology.cni.bridge}" is an interface every node already has; pick another bridge name`,
    );

  if (topology.cni.backend !== 'vxlan' && topology.cni.vxlan !== undefined)
    report(['cni', 'vxlan'], 'cni.vxlan goes with cni.backend: vxlan (this lab routes with host-gw)');
  const underlay = nodeNetworkMtu(topology);
  if (topology.cni.backend === 'vxlan' && topology.cni.mtu !== undefined) {
    const largest = underlay - defaults.vxlanOverhead;
    if (topology.cni.mtu > largest)
      report(
        ['cni', 'mtu'],
        `${topology.cni.mtu} is more than the VXLAN tunnel carries: the node network's MTU ${underlay} less ${defaults.vxlanOverhead} for the encapsulation leaves ${largest}; larger packets are dropped (small requests work, large answers stall); use at most ${largest}, or leave cni.mtu out`,
        'warning',
      );
  } else if (spansEngines(topology) && topology.cni.mtu !== undefined && topology.cni.mtu > underlay)
    report(
      ['cni', 'mtu'],
      `${topology.cni.mtu} is more than the node network carries: a lab across engines runs on a Swarm overlay of MTU ${underlay}; use at most ${underlay}, or leave cni.mtu out`,
      'warning',
    );

  const serviceOk = cidrOk.get('cluster.serviceCIDR') === true;
  const service = serviceOk ? parseCidr(cluster.serviceCIDR) : undefined;
  const dnsIp = parseIp(topology.dns.clusterIP);
  if (dnsIp === undefined) report(['dns', 'clusterIP'], `"${topology.dns.clusterIP}" is not an IPv4 address`);
  else if (service && !usableIn(service, dnsIp))
    report(
      ['dns', 'clusterIP'],
      `${topology.dns.clusterIP} is not a usable address of cluster.serviceCIDR ${cluster.serviceCIDR}`,
    );
  topology.dns.upstream.forEach((u, i) => {
    if (parseIp(u) === undefined) report(['dns', 'upstream', i], `"${u}" is not an IPv4 address`);
  });

  return { podOk, service, dnsIp };
}

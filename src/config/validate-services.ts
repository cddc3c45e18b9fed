import { lastIp, parseIp } from '../net/ipv4.js';
import { allocateClusterIPs, allocateNodePorts, type PodInstance } from './allocate.js';
import type { PathPart } from './path.js';
import { formatSelector, matches } from './selector.js';
import { dnsService, type Topology } from './types.js';
import type { ClusterFacts } from './validate-cluster.js';
import {
  checkLabels,
  checkName,
  dns1035Label,
  dns1123Label,
  nameLimits,
  nodePortRange,
  portName,
  type Report,
  usableIn,
} from './validate-names.js';

/** Services: names, types, addresses, ports, NodePorts and selectors. */
export function checkServices(
  topology: Topology,
  report: Report,
  { service, dnsIp }: ClusterFacts,
  instances: PodInstance[],
): void {
  const { cluster } = topology;
  const serviceKeys = new Map<string, number>();
  const clusterIPs = new Map<string, string>();
  if (dnsIp !== undefined) clusterIPs.set(topology.dns.clusterIP, 'dns.clusterIP');
  const nodePorts = new Map<number, string>();
  const hostPorts: { ip: string; port: number; protocol: string; who: string }[] = [];
  topology.services.forEach((svc, i) => {
    const path: PathPart[] = ['services', i];
    checkName(
      report,
      [...path, 'name'],
      svc.name,
      nameLimits.label,
      'Service name',
      dns1035Label,
      'lowercase letters, digits and -, starting with a letter',
    );
    checkName(report, [...path, 'namespace'], svc.namespace, nameLimits.label, 'namespace', dns1123Label);
    const key = `${svc.namespace}/${svc.name}`;
    if (serviceKeys.has(key))
      report([...path, 'name'], `duplicate Service ${key} (also services[${serviceKeys.get(key)}])`);
    else serviceKeys.set(key, i);
    if (svc.namespace === dnsService.namespace && svc.name === dnsService.name)
      report([...path, 'name'], `${key} is podlab's DNS Service; pick another name`);
    checkLabels(report, [...path, 'selector'], svc.selector);

    if (svc.type === 'ExternalName') {
      if (!svc.externalName)
        report(path, 'an ExternalName Service needs externalName: the DNS name it aliases');
      if (svc.clusterIP !== undefined)
        report([...path, 'clusterIP'], 'an ExternalName Service has no clusterIP');
      if (Object.keys(svc.selector).length)
        report([...path, 'selector'], 'an ExternalName Service has no selector');
    } else if (svc.externalName !== undefined) {
      report([...path, 'externalName'], `externalName belongs to type ExternalName, not ${svc.type}`);
    }
    if (
      svc.externalName !== undefined &&
      !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\.?$/i.test(svc.externalName)
    ) {
      report([...path, 'externalName'], `"${svc.externalName}" is not a DNS name`);
    }
    if (svc.clusterIP !== undefined && svc.clusterIP !== 'None') {
      const ip = parseIp(svc.clusterIP);
      if (ip === undefined)
        report([...path, 'clusterIP'], `"${svc.clusterIP}" is not an IPv4 address or None`);
      else if (service && !usableIn(service, ip))
        report(
          [...path, 'clusterIP'],
          `${svc.clusterIP} is not a usable address of cluster.serviceCIDR ${cluster.serviceCIDR}`,
        );
      else if (clusterIPs.has(svc.clusterIP))
        report([...path, 'clusterIP'], `${svc.clusterIP} is taken by ${clusterIPs.get(svc.clusterIP)}`);
      else clusterIPs.set(svc.clusterIP, `Service ${key}`);
    }
    if (svc.clusterIP === 'None' && svc.type === 'NodePort')
      report([...path, 'clusterIP'], 'a NodePort Service cannot be headless (clusterIP: None)');
    if (svc.type !== 'ExternalName' && svc.ports.length === 0)
      report(path, 'a Service needs at least one port');
    const portKeys = new Set<string>();
    const names = new Set<string>();
    svc.ports.forEach((p, j) => {
      const ppath: PathPart[] = [...path, 'ports', j];
      if (svc.ports.length > 1 && p.name === undefined)
        report(ppath, 'every port needs a name when a Service has more than one');
      if (p.name !== undefined) {
        if (!portName.test(p.name) || p.name.length > nameLimits.portName)
          report(
            [...ppath, 'name'],
            `"${p.name}" is not a port name (at most 15 lowercase letters, digits and -, with a letter)`,
          );
        if (names.has(p.name)) report([...ppath, 'name'], `duplicate port name "${p.name}"`);
        names.add(p.name);
      }
      const pk = `${p.port}/${p.protocol}`;
      if (portKeys.has(pk)) report([...ppath, 'port'], `duplicate port ${pk}`);
      portKeys.add(pk);
      if (
        typeof p.targetPort === 'number' &&
        (p.targetPort < 1 || p.targetPort > 65535 || !Number.isInteger(p.targetPort))
      ) {
        report([...ppath, 'targetPort'], `${p.targetPort} is not a port (1–65535)`);
      }
      if (
        typeof p.targetPort === 'string' &&
        (!portName.test(p.targetPort) || p.targetPort.length > nameLimits.portName)
      ) {
        report([...ppath, 'targetPort'], `"${p.targetPort}" is neither a port number nor a port name`);
      }
      if (p.nodePort !== undefined) {
        if (svc.type !== 'NodePort')
          report([...ppath, 'nodePort'], `nodePort needs type: NodePort (this Service is ${svc.type})`);
        else if (p.nodePort < nodePortRange.min || p.nodePort > nodePortRange.max) {
          report(
            [...ppath, 'nodePort'],
            `${p.nodePort} is outside the NodePort range ${nodePortRange.min}–${nodePortRange.max}`,
          );
        } else if (nodePorts.has(p.nodePort))
          report([...ppath, 'nodePort'], `nodePort ${p.nodePort} is taken by ${nodePorts.get(p.nodePort)}`);
        else nodePorts.set(p.nodePort, `Service ${key}`);
      }
      if (p.hostIP !== undefined && p.hostPort === undefined)
        report([...ppath, 'hostIP'], 'hostIP goes with hostPort: the port to publish on that address');
      if (p.hostPort !== undefined) {
        const ip = p.hostIP ?? '127.0.0.1';
        if (svc.type === 'ExternalName' || svc.clusterIP === 'None')
          report(
            [...ppath, 'hostPort'],
            `hostPort needs a Service with a ClusterIP; ${key} is ${svc.type === 'ExternalName' ? 'an ExternalName Service' : 'headless (clusterIP: None)'}`,
          );
        else if (parseIp(ip) === undefined)
          report(
            [...ppath, 'hostIP'],
            `"${ip}" is not an IPv4 address (127.0.0.1 by default, 0.0.0.0 for every address)`,
          );
        else {
          const clash = hostPorts.find(
            (h) =>
              h.port === p.hostPort &&
              h.protocol === p.protocol &&
              (h.ip === ip || h.ip === '0.0.0.0' || ip === '0.0.0.0'),
          );
          if (clash)
            report(
              [...ppath, 'hostPort'],
              `hostPort ${ip}:${p.hostPort}/${p.protocol} is taken by ${clash.who}`,
            );
          else
            hostPorts.push({
              ip,
              port: p.hostPort,
              protocol: p.protocol,
              who: `Service ${key} port ${p.port}`,
            });
        }
      }
    });
    if (svc.type !== 'ExternalName' && Object.keys(svc.selector).length > 0) {
      const selected = instances.filter(
        (p) => p.namespace === svc.namespace && matches(svc.selector, p.template.labels),
      );
      if (instances.length && selected.length === 0) {
        report(
          [...path, 'selector'],
          `selector ${formatSelector(svc.selector)} matches no pod in namespace ${svc.namespace}; the Service will have no endpoints`,
          'warning',
        );
      }
      svc.ports.forEach((p, j) => {
        if (typeof p.targetPort !== 'string' || selected.length === 0) return;
        const named = selected.some((pod) =>
          pod.template.containers.some((c) => c.ports.some((cp) => cp.name === p.targetPort)),
        );
        if (!named)
          report(
            [...path, 'ports', j, 'targetPort'],
            `no selected pod has a container port named "${p.targetPort}"`,
          );
      });
    }
  });

  // Capacity, only when every address that takes part is valid: the allocation that the plan makes.
  const addressesOk =
    service !== undefined &&
    dnsIp !== undefined &&
    topology.services.every(
      (s) => s.clusterIP === undefined || s.clusterIP === 'None' || parseIp(s.clusterIP) !== undefined,
    );
  if (addressesOk) {
    const { unallocated } = allocateClusterIPs(topology, topology.services);
    const usable = Math.max(0, lastIp(service) - (service.base + 2));
    for (const key of unallocated) {
      const i = topology.services.findIndex((s) => `${s.namespace}/${s.name}` === key);
      report(
        ['services', i],
        `no ClusterIP left for Service ${key}: cluster.serviceCIDR ${cluster.serviceCIDR} has ${usable} address${usable === 1 ? '' : 'es'} for Services (its first is kept for kubernetes.default; the DNS address and the ones Services name are taken); widen cluster.serviceCIDR or give this Service clusterIP: None`,
      );
    }
  }
  for (const key of allocateNodePorts(topology.services).unallocated) {
    const [svcKey = '', port = ''] = key.split(':');
    const i = topology.services.findIndex((s) => `${s.namespace}/${s.name}` === svcKey);
    const j = topology.services[i]?.ports.findIndex((p) => `${p.port}/${p.protocol}` === port) ?? -1;
    report(
      ['services', i, 'ports', j],
      `no NodePort left for ${svcKey} port ${port}: the range ${nodePortRange.min}–${nodePortRange.max} is used up; use type ClusterIP for some Services`,
    );
  }
}

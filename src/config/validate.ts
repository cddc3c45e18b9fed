import { dirname, resolve } from 'node:path';
import type { ConfigIssue } from '../errors.js';
import { cidrProblem, contains, lastIp, overlaps, parseCidr, parseIp, size } from '../net/ipv4.js';
import { allocateNodeRanges, expandPods, instanceNames, podCapacity } from '../plan/allocate.js';
import type { Locate, PathPart } from './load.js';
import { formatPath } from './load.js';
import {
  type ContainerConfig,
  defaults,
  type PodConfig,
  type ServiceConfig,
  type ServicePortConfig,
  type Topology,
} from './types.js';

/** The document as the schema lets it through: shapes are right, values unchecked, defaults missing. */
export interface RawTopology {
  apiVersion: 'podlab/v1';
  name: string;
  cluster?: Partial<Topology['cluster']>;
  cni?: Partial<Topology['cni']>;
  dns?: { clusterIP?: string; upstream?: string[] };
  nodes: { name: string; podCIDR?: string }[];
  pods?: (Omit<PodConfig, 'namespace' | 'labels' | 'containers'> & {
    namespace?: string;
    labels?: Record<string, string>;
    containers?: (Omit<ContainerConfig, 'env' | 'ports'> & {
      env?: Record<string, string>;
      ports?: { name?: string; containerPort: number; protocol?: 'TCP' | 'UDP' }[];
    })[];
  })[];
  services?: (Omit<ServiceConfig, 'namespace' | 'type' | 'selector' | 'ports'> & {
    namespace?: string;
    type?: ServiceConfig['type'];
    selector?: Record<string, string>;
    ports?: (Omit<ServicePortConfig, 'protocol' | 'targetPort'> & {
      protocol?: 'TCP' | 'UDP';
      targetPort?: number | string;
    })[];
  })[];
  exercises?: string[];
}

/** Limits that Linux and Kubernetes put on names; each is checked with the reason it exists. */
export const nameLimits = {
  lab: 20,
  label: 63,
  interface: 15,
  portName: 15,
} as const;

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1035Label = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const labelKey =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const envName = /^[A-Za-z_][A-Za-z0-9_]*$/;
const interfaceName = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const portName = /^(?=.*[a-z])[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const imageRef =
  /^[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;

/** NodePort range of a default Kubernetes API server. */
export const nodePortRange = { min: 30000, max: 32767 } as const;

/**
 * Checks everything the schema cannot (names, references, address plans, capacity) and fills in
 * defaults. Collects every problem; the topology is returned only when there is no error.
 */
export function validateTopology(
  raw: RawTopology,
  file: string,
  locate: Locate,
): { topology?: Topology; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const report = (path: PathPart[], message: string, severity: 'error' | 'warning' = 'error') => {
    const position = locate(path);
    issues.push({ path: formatPath(path), message, severity, ...(position ? { position } : {}) });
  };

  const topology = withDefaults(raw, file);

  checkName(report, ['name'], raw.name, nameLimits.lab, 'lab name', dns1123Label);

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
    if (hosts < topology.nodes.length) {
      report(
        ['cluster', 'nodeSubnet'],
        `${cluster.nodeSubnet} holds ${Math.max(0, hosts)} nodes besides its gateway; this lab has ${topology.nodes.length}`,
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

  // Nodes: names, overrides, ranges.
  const nodeNames = new Map<string, number>();
  topology.nodes.forEach((node, i) => {
    checkName(
      report,
      ['nodes', i, 'name'],
      node.name,
      nameLimits.label,
      'node name (a hostname)',
      dns1123Label,
    );
    if (nodeNames.has(node.name))
      report(['nodes', i, 'name'], `duplicate node "${node.name}" (also nodes[${nodeNames.get(node.name)}])`);
    else nodeNames.set(node.name, i);
  });
  const overrideOk = topology.nodes.map((node, i) => {
    if (node.podCIDR === undefined) return true;
    const problem = cidrProblem(node.podCIDR);
    if (problem) {
      report(['nodes', i, 'podCIDR'], problem);
      return false;
    }
    if (podOk && !withinText(node.podCIDR, cluster.podCIDR)) {
      report(['nodes', i, 'podCIDR'], `${node.podCIDR} is not inside cluster.podCIDR ${cluster.podCIDR}`);
      return false;
    }
    if (parseCidr(node.podCIDR).bits > 30) {
      report(['nodes', i, 'podCIDR'], `${node.podCIDR} has no room for pods; use /30 or wider`);
      return false;
    }
    return true;
  });
  const nodeRangesValid = podOk && cluster.nodeMaskSize >= parseCidr(cluster.podCIDR).bits;
  // An invalid override is reported above; the rest are still allocated so that their clashes show too.
  const allocatable = topology.nodes.map((n, i) => (overrideOk[i] ? n : { name: n.name }));
  const ranges = nodeRangesValid ? allocateNodeRanges(cluster, allocatable) : [];
  ranges.forEach((r, i) => {
    if (!r.ok) report(['nodes', i], r.message);
  });
  for (let i = 0; i < ranges.length; i++) {
    for (let j = i + 1; j < ranges.length; j++) {
      const a = ranges[i]!;
      const b = ranges[j]!;
      if (a.ok && b.ok && overlaps(parseCidr(a.cidr), parseCidr(b.cidr))) {
        report(
          ['nodes', j, 'podCIDR'],
          `pod range ${b.cidr} of node "${topology.nodes[j]!.name}" overlaps ${a.cidr} of node "${topology.nodes[i]!.name}"`,
        );
      }
    }
  }

  // Pods: names, references, containers.
  const podKeys = new Map<string, string>();
  topology.pods.forEach((pod, i) => {
    const path: PathPart[] = ['pods', i];
    const longest = instanceNames(pod).at(-1) ?? pod.name;
    checkName(
      report,
      [...path, 'name'],
      pod.name,
      nameLimits.label - (longest.length - pod.name.length),
      'pod name (with its replica suffix, a hostname)',
      dns1123Label,
    );
    checkName(report, [...path, 'namespace'], pod.namespace, nameLimits.label, 'namespace', dns1123Label);
    if (pod.node !== undefined && !nodeNames.has(pod.node)) {
      report([...path, 'node'], `unknown node "${pod.node}"; nodes are ${[...nodeNames.keys()].join(', ')}`);
    }
    for (const name of instanceNames(pod)) {
      const key = `${pod.namespace}/${name}`;
      if (podKeys.has(key)) report([...path, 'name'], `duplicate pod ${key} (also ${podKeys.get(key)})`);
      else podKeys.set(key, formatPath(path));
    }
    if (pod.namespace === 'kube-system' && pod.name.startsWith('kube-dns')) {
      report(
        [...path, 'name'],
        "pods named kube-dns* in kube-system are podlab's DNS pods; pick another name",
      );
    }
    checkLabels(report, [...path, 'labels'], pod.labels);
    if (pod.image !== undefined && !imageRef.test(pod.image))
      report([...path, 'image'], `"${pod.image}" is not an image reference (name[:tag])`);
    const containerNames = new Set<string>();
    const portNames = new Set<string>();
    pod.containers.forEach((c, j) => {
      const cpath: PathPart[] = [...path, 'containers', j];
      checkName(report, [...cpath, 'name'], c.name, nameLimits.label, 'container name', dns1123Label);
      if (containerNames.has(c.name))
        report([...cpath, 'name'], `duplicate container "${c.name}" in pod ${pod.name}`);
      containerNames.add(c.name);
      if (c.image !== undefined && !imageRef.test(c.image))
        report([...cpath, 'image'], `"${c.image}" is not an image reference (name[:tag])`);
      for (const key of Object.keys(c.env)) {
        if (!envName.test(key))
          report(
            [...cpath, 'env', key],
            `"${key}" is not an environment variable name (letters, digits, _; not first a digit)`,
          );
      }
      c.command?.forEach((arg, k) => {
        if (arg.includes('\0')) report([...cpath, 'command', k], 'an argument may not contain a NUL byte');
      });
      c.ports.forEach((p, k) => {
        if (p.name === undefined) return;
        if (!portName.test(p.name) || p.name.length > nameLimits.portName) {
          report(
            [...cpath, 'ports', k, 'name'],
            `"${p.name}" is not a port name (at most 15 lowercase letters, digits and -, with a letter)`,
          );
        }
        if (portNames.has(p.name))
          report([...cpath, 'ports', k, 'name'], `duplicate port name "${p.name}" in pod ${pod.name}`);
        portNames.add(p.name);
      });
    });
  });

  // Capacity: each node's range holds its pods (and the DNS pod, which runs on the first node).
  const instances = topology.pods.every((p) => p.node === undefined || nodeNames.has(p.node))
    ? expandPods(topology)
    : [];
  if (nodeRangesValid) {
    topology.nodes.forEach((node, i) => {
      const r = ranges[i];
      if (!r?.ok) return;
      const count = instances.filter((p) => p.node === node.name).length + (i === 0 ? 1 : 0);
      const capacity = podCapacity(r.cidr);
      if (count > capacity) {
        report(
          ['nodes', i],
          `node "${node.name}" runs ${count} pods but its range ${r.cidr} holds ${capacity}; use a wider range (smaller cluster.nodeMaskSize or podCIDR)`,
        );
      }
    });
  }

  // Services.
  const serviceKeys = new Map<string, number>();
  const clusterIPs = new Map<string, string>();
  if (dnsIp !== undefined) clusterIPs.set(topology.dns.clusterIP, 'dns.clusterIP');
  const nodePorts = new Map<number, string>();
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
    if (key === 'kube-system/kube-dns')
      report([...path, 'name'], "kube-system/kube-dns is podlab's DNS Service; pick another name");
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

  topology.exercises.forEach((e, i) => {
    if (e.includes('\0')) report(['exercises', i], 'a path may not contain a NUL byte');
  });

  return issues.some((i) => i.severity === 'error') ? { issues } : { topology, issues };
}

type Report = (path: PathPart[], message: string, severity?: 'error' | 'warning') => void;

function checkName(
  report: Report,
  path: PathPart[],
  value: string,
  max: number,
  what: string,
  pattern: RegExp,
  rule = 'lowercase letters, digits and -, starting and ending with a letter or digit',
): void {
  if (!pattern.test(value)) report(path, `"${printable(value)}" is not a valid ${what}: use ${rule}`);
  else if (value.length > max)
    report(
      path,
      `"${value}" is ${value.length} characters; ${/^[aeiou]/.test(what) ? 'an' : 'a'} ${what} may have at most ${max}`,
    );
}

function checkLabels(report: Report, path: PathPart[], labels: Record<string, string>): void {
  for (const [k, v] of Object.entries(labels)) {
    if (!labelKey.test(k) || k.length > 316) report([...path, k], `"${printable(k)}" is not a label key`);
    if (!labelValue.test(v) || v.length > nameLimits.label)
      report([...path, k], `"${printable(v)}" is not a label value (at most 63 letters, digits, -, _ and .)`);
  }
}

/** Shows control characters escaped, so a newline in a name is visible in the message. */
function printable(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

/** Whether an address is a usable host address of a network (not its network or broadcast address). */
function usableIn(c: ReturnType<typeof parseCidr>, ip: number): boolean {
  return contains(c, ip) && ip !== c.base && ip !== lastIp(c);
}

function withinText(inner: string, outer: string): boolean {
  const a = parseCidr(inner);
  const b = parseCidr(outer);
  return a.bits >= b.bits && contains(b, a.base);
}

/** Whether a pod's labels satisfy an equality selector (every key present with that value). */
export function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  const entries = Object.entries(selector);
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

/** `{app: foo, tier: web}` → `app=foo,tier=web`. */
export function formatSelector(selector: Record<string, string>): string {
  return Object.entries(selector)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

function withDefaults(raw: RawTopology, file: string): Topology {
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
    },
    dns: { clusterIP: raw.dns?.clusterIP ?? defaults.dnsClusterIP, upstream: raw.dns?.upstream ?? [] },
    nodes: raw.nodes.map((n) => ({ ...n })),
    pods: (raw.pods ?? []).map((p) => ({
      ...p,
      namespace: p.namespace ?? defaults.namespace,
      labels: p.labels ?? {},
      containers: (p.containers ?? [{ name: defaults.containerName }]).map((c) => ({
        ...c,
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
      })),
    })),
    exercises: (raw.exercises ?? []).map((e) => resolve(base, e)),
  };
}

import { cidrProblem, parseCidr, within } from '../net/ipv4.js';
import type { PathPart } from './path.js';
import {
  type LabelSelector,
  namespaceNameLabel,
  type PolicyPeer,
  type PolicyPort,
  type Topology,
} from './types.js';
import {
  checkLabels,
  checkName,
  dns1123Label,
  labelKey,
  labelValue,
  nameLimits,
  portName,
  printable,
  type Report,
} from './validate-names.js';

/** A DNS subdomain (RFC 1123), as Kubernetes object names are: labels joined by dots. */
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Namespaces and NetworkPolicies, checked as the Kubernetes API server validates them. */
export function checkPolicies(topology: Topology, report: Report): void {
  const namespaces = new Map<string, number>();
  topology.namespaces.forEach((ns, i) => {
    const path: PathPart[] = ['namespaces', i];
    checkName(report, [...path, 'name'], ns.name, nameLimits.label, 'namespace', dns1123Label);
    if (namespaces.has(ns.name))
      report(
        [...path, 'name'],
        `namespace ${ns.name} is listed twice (also namespaces[${namespaces.get(ns.name)}])`,
      );
    else namespaces.set(ns.name, i);
    checkLabels(report, [...path, 'labels'], ns.labels);
    const own = ns.labels[namespaceNameLabel];
    if (own !== undefined && own !== ns.name)
      report(
        [...path, 'labels', namespaceNameLabel],
        `${namespaceNameLabel} is always the namespace's name ("${ns.name}"); remove it or write "${ns.name}"`,
      );
  });

  const names = new Map<string, number>();
  topology.networkPolicies.forEach((policy, i) => {
    const path: PathPart[] = ['networkPolicies', i];
    const { name, namespace } = policy.metadata;
    checkName(
      report,
      [...path, 'metadata', 'name'],
      name,
      253,
      'NetworkPolicy name',
      dns1123Subdomain,
      'lowercase letters, digits, - and ., starting and ending with a letter or digit',
    );
    checkName(
      report,
      [...path, 'metadata', 'namespace'],
      namespace,
      nameLimits.label,
      'namespace',
      dns1123Label,
    );
    const key = `${namespace}/${name}`;
    if (names.has(key))
      report(
        [...path, 'metadata', 'name'],
        `duplicate NetworkPolicy ${key} (also networkPolicies[${names.get(key)}])`,
      );
    else names.set(key, i);
    const spec = policy.spec;
    checkSelector(report, [...path, 'spec', 'podSelector'], spec.podSelector);
    if (new Set(spec.policyTypes).size !== spec.policyTypes.length)
      report([...path, 'spec', 'policyTypes'], 'each policy type may appear once');
    if (spec.policyTypes.length === 0)
      report(
        [...path, 'spec', 'policyTypes'],
        'policyTypes may not be empty: leave it out, or list Ingress, Egress or both',
      );
    if (spec.egress?.length && !spec.policyTypes.includes('Egress'))
      report(
        [...path, 'spec', 'egress'],
        'egress rules without Egress in policyTypes are never used: add Egress to policyTypes, or remove the rules',
        'warning',
      );
    if (spec.ingress?.length && !spec.policyTypes.includes('Ingress'))
      report(
        [...path, 'spec', 'ingress'],
        'ingress rules without Ingress in policyTypes are never used: add Ingress to policyTypes, or remove the rules',
        'warning',
      );
    spec.ingress?.forEach((rule, r) => {
      rule.from?.forEach((peer, p) => {
        checkPeer(report, [...path, 'spec', 'ingress', r, 'from', p], peer);
      });
      rule.ports?.forEach((port, p) => {
        checkPort(report, [...path, 'spec', 'ingress', r, 'ports', p], port);
      });
    });
    spec.egress?.forEach((rule, r) => {
      rule.to?.forEach((peer, p) => {
        checkPeer(report, [...path, 'spec', 'egress', r, 'to', p], peer);
      });
      rule.ports?.forEach((port, p) => {
        checkPort(report, [...path, 'spec', 'egress', r, 'ports', p], port);
      });
    });
  });
}

function checkSelector(report: Report, path: PathPart[], selector: LabelSelector): void {
  checkLabels(report, [...path, 'matchLabels'], selector.matchLabels ?? {});
  selector.matchExpressions?.forEach((e, i) => {
    const at: PathPart[] = [...path, 'matchExpressions', i];
    if (!labelKey.test(e.key)) report([...at, 'key'], `"${printable(e.key)}" is not a label key`);
    const values = e.values ?? [];
    if ((e.operator === 'In' || e.operator === 'NotIn') && values.length === 0)
      report(at, `operator ${e.operator} needs values: the label values it compares with`);
    if (
      (e.operator === 'Exists' || e.operator === 'DoesNotExist') &&
      e.values !== undefined &&
      values.length > 0
    )
      report([...at, 'values'], `operator ${e.operator} takes no values: remove them`);
    values.forEach((v, j) => {
      if (!labelValue.test(v) || v.length > nameLimits.label)
        report(
          [...at, 'values', j],
          `"${printable(v)}" is not a label value (at most 63 letters, digits, -, _ and .)`,
        );
    });
  });
}

function checkPeer(report: Report, path: PathPart[], peer: PolicyPeer): void {
  if (!peer.podSelector && !peer.namespaceSelector && !peer.ipBlock) {
    report(
      path,
      'a peer needs podSelector, namespaceSelector or ipBlock (to allow everything, leave the peer list out)',
    );
    return;
  }
  if (peer.ipBlock && (peer.podSelector || peer.namespaceSelector))
    report(
      path,
      'ipBlock may not be combined with podSelector or namespaceSelector in one peer: make them two peers',
    );
  if (peer.podSelector) checkSelector(report, [...path, 'podSelector'], peer.podSelector);
  if (peer.namespaceSelector) checkSelector(report, [...path, 'namespaceSelector'], peer.namespaceSelector);
  if (!peer.ipBlock) return;
  const { cidr, except = [] } = peer.ipBlock;
  const problem = cidrProblem(cidr);
  if (problem) {
    report([...path, 'ipBlock', 'cidr'], problem);
    return;
  }
  except.forEach((e, i) => {
    const at: PathPart[] = [...path, 'ipBlock', 'except', i];
    const bad = cidrProblem(e);
    if (bad) report(at, bad);
    else if (!within(parseCidr(e), parseCidr(cidr)) || parseCidr(e).bits <= parseCidr(cidr).bits)
      report(at, `${e} is not strictly inside ${cidr}: an except range must be a part of the cidr`);
  });
}

function checkPort(report: Report, path: PathPart[], port: PolicyPort): void {
  if (typeof port.port === 'string') {
    if (!portName.test(port.port) || port.port.length > nameLimits.portName)
      report(
        [...path, 'port'],
        `"${printable(port.port)}" is neither a port number nor a port name (at most 15 lowercase letters, digits and -)`,
      );
    if (port.endPort !== undefined)
      report([...path, 'endPort'], 'endPort needs a numeric port: a named port is one port');
    return;
  }
  if (port.port !== undefined && (port.port < 1 || port.port > 65535))
    report([...path, 'port'], `port ${port.port} is outside 1-65535`);
  if (port.endPort === undefined) return;
  if (port.port === undefined)
    report([...path, 'endPort'], 'endPort needs port: the first port of the range');
  else if (port.endPort < port.port || port.endPort > 65535)
    report([...path, 'endPort'], `endPort ${port.endPort} must be between port (${port.port}) and 65535`);
}

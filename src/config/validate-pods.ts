import { expandPods, instanceNames, type PodInstance } from './allocate.js';
import { formatPath, type PathPart } from './path.js';
import { dnsService, type Topology } from './types.js';
import {
  checkLabels,
  checkName,
  dns1123Label,
  envName,
  imageRef,
  nameLimits,
  portName,
  printable,
  type Report,
} from './validate-names.js';
import type { NodeFacts } from './validate-nodes.js';

/** Pod names, references to nodes, containers, images, env and ports; returns the pods as they run. */
export function checkPods(topology: Topology, report: Report, { nodeNames }: NodeFacts): PodInstance[] {
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
    if (pod.namespace === dnsService.namespace && pod.name.startsWith(dnsService.name)) {
      report(
        [...path, 'name'],
        `pods named ${dnsService.name}* in ${dnsService.namespace} are podlab's DNS pods; pick another name`,
      );
    }
    if (pod.namespace === dnsService.namespace && pod.labels[dnsService.labelKey] === dnsService.app) {
      report(
        [...path, 'labels', dnsService.labelKey],
        `${dnsService.labelKey}=${dnsService.app} in ${dnsService.namespace} is reserved for podlab's DNS pod (Service ${dnsService.namespace}/${dnsService.name} selects it); use another label`,
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
      for (const field of ['command', 'args'] as const)
        c[field]?.forEach((arg, k) => {
          if (arg.includes('\0')) report([...cpath, field, k], 'an argument may not contain a NUL byte');
        });
      if (c.workingDir !== undefined && (!c.workingDir.startsWith('/') || c.workingDir.includes('\0')))
        report([...cpath, 'workingDir'], `"${printable(c.workingDir)}" is not an absolute path`);
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
  return topology.pods.every((p) => p.node === undefined || nodeNames.has(p.node))
    ? expandPods(topology)
    : [];
}

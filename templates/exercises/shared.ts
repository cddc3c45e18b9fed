// Helpers the shipped exercises share: which Service, pod and nodes of the lab they break.

import type { NetworkPolicyConfig, ServiceConfig } from '../../src/config/types.js';
import type { ExerciseLab } from '../../src/exercises/api.js';
import type { LabPlan, ServicePlan } from '../../src/plan/types.js';

/** The first Service of the lab with a selector, a TCP port and endpoints (in the example: bar/foo). */
export function targetService(lab: ExerciseLab): ServicePlan {
  const svc = lab.plan.services.find(
    (s) =>
      s.namespace !== 'kube-system' &&
      s.clusterIP !== 'None' &&
      s.ports.some((p) => p.protocol === 'TCP' && p.endpoints.length > 0),
  );
  lab.assert.ok(svc, 'this exercise needs a Service with a TCP port and endpoints');
  return svc!;
}

/** A NodePort Service of the lab with endpoints (in the example: bar/foo). */
export function nodePortService(lab: ExerciseLab): { svc: ServicePlan; nodePort: number } {
  const svc = lab.plan.services.find((s) =>
    s.ports.some((p) => p.nodePort !== undefined && p.endpoints.length > 0),
  );
  lab.assert.ok(svc, 'this exercise needs a NodePort Service with endpoints');
  return { svc: svc!, nodePort: svc!.ports.find((p) => p.nodePort !== undefined)!.nodePort! };
}

/** A pod in the Service's namespace that is not one of its endpoints (in the example: bar/client). */
export function clientOf(lab: ExerciseLab, svc: ServicePlan): string {
  const endpoints = new Set(svc.endpoints.map((e) => e.pod));
  const pod = lab.plan.pods.find((p) => p.namespace === svc.namespace && !endpoints.has(p.key));
  lab.assert.ok(
    pod,
    `this exercise needs a pod in namespace ${svc.namespace} besides the endpoints of ${svc.key}`,
  );
  return pod!.key;
}

/** Two nodes: the one that will lose its route, and the one whose pods it loses (in the example: worker-1 and worker-2). */
export function nodePair(lab: ExerciseLab) {
  const nodes = lab.plan.nodes;
  lab.assert.ok(nodes.length >= 2, 'this exercise needs at least two nodes');
  return { from: nodes[nodes.length - 2]!, to: nodes[nodes.length - 1]! };
}

/** `lab exec` steps that load a rule set into every node the way podlab's kube-proxy does. */
export function loadRulesSteps(lab: ExerciseLab, rules: string): [string, ...string[]][] {
  return lab.plan.nodes.map((n) => [
    n.name,
    'sh',
    '-c',
    'printf "%s\\n" "$1" | iptables-restore --noflush',
    'sh',
    rules,
  ]);
}

/** The plan of the lab with one Service changed by `edit` (to break it on purpose). */
export function replanService(lab: ExerciseLab, svc: ServicePlan, edit: (s: ServiceConfig) => void): LabPlan {
  return lab.replan((t) => {
    edit(t.services.find((x) => x.namespace === svc.namespace && x.name === svc.name)!);
    return t;
  });
}

/** The overlay of a node, for exercises of a lab on cni.backend: vxlan. */
export function overlayOf(lab: ExerciseLab, node: string) {
  const overlay = lab.plan.nodes.find((n) => n.name === node)?.overlay;
  lab.assert.ok(
    overlay,
    'this exercise needs a lab on cni.backend: vxlan (templates/labs/flannel-vxlan.yaml)',
  );
  return overlay!;
}

/**
 * A shell script for a node that sets eth0 of every pod sandbox on it (found by podlab's marker in
 * the environment of its process) to `mtu`, from the node, as a student would with nsenter.
 */
export function podMtuScript(mtu: number): string {
  return [
    'for e in /proc/[0-9]*/environ; do',
    "  tr '\\0' '\\n' < \"$e\" 2>/dev/null | grep -q '^PODLAB_POD=' || continue",
    `  p=\${e#/proc/}`,
    `  nsenter -t "\${p%/environ}" -n ip link set eth0 mtu ${mtu}`,
    'done',
  ].join('\n');
}

/** A NetworkPolicy manifest as a learner writes it (apiVersion and kind included). */
export function policy(
  namespace: string,
  name: string,
  spec: NetworkPolicyConfig['spec'],
): NetworkPolicyConfig {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace }, spec };
}

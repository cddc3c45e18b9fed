import type { ConfigIssue } from '../errors.js';
import { type RawNetworkPolicy, withDefaults } from './defaults.js';
import { formatPath, type Locate, type PathPart } from './path.js';
import type { ContainerConfig, PodConfig, ServiceConfig, ServicePortConfig, Topology } from './types.js';
import { checkCluster } from './validate-cluster.js';
import { checkEngines } from './validate-engines.js';
import { checkNodeCapacity, checkNodes } from './validate-nodes.js';
import { checkPods } from './validate-pods.js';
import { checkPolicies } from './validate-policies.js';
import { checkServices } from './validate-services.js';

/** The document as the schema lets it through: shapes are right, values unchecked, defaults missing. */
export interface RawTopology {
  apiVersion: 'podlab/v1';
  name: string;
  cluster?: Partial<Topology['cluster']>;
  cni?: Partial<Topology['cni']>;
  dns?: { clusterIP?: string; upstream?: string[] };
  engines?: Topology['engines'];
  nodes: { name: string; podCIDR?: string; engine?: string }[];
  pods?: (Omit<PodConfig, 'namespace' | 'labels' | 'containers' | 'restartPolicy'> & {
    namespace?: string;
    labels?: Record<string, string>;
    restartPolicy?: PodConfig['restartPolicy'];
    containers?: (Omit<ContainerConfig, 'env' | 'ports' | 'imagePullPolicy'> & {
      imagePullPolicy?: ContainerConfig['imagePullPolicy'];
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
  namespaces?: { name: string; labels?: Record<string, string> }[];
  networkPolicies?: RawNetworkPolicy[];
  exercises?: string[];
}

/**
 * Checks everything the schema cannot (names, references, address plans, capacity) and fills in
 * defaults. Collects every problem; the topology is returned only when there is no error. One file
 * per section of the topology: validate-cluster, -nodes, -pods, -services.
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
  const cluster = checkCluster(topology, report);
  const nodes = checkNodes(topology, report, cluster);
  checkEngines(topology, report);
  const instances = checkPods(topology, report, nodes);
  checkNodeCapacity(topology, report, nodes, instances);
  checkServices(topology, report, cluster, instances);
  checkPolicies(topology, report);
  topology.exercises.forEach((e, i) => {
    if (e.includes('\0')) report(['exercises', i], 'a path may not contain a NUL byte');
  });

  return issues.some((i) => i.severity === 'error') ? { issues } : { topology, issues };
}

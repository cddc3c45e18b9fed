/**
 * The NetworkPolicy cases podlab is held to, shared by the unit tests (the plan's verdicts) and the
 * integration tests (what the nodes' iptables do). The lab is the one of Kubernetes' own suite
 * (kubernetes/kubernetes, test/e2e/network/netpol): namespaces x, y and z with pods a, b and c each,
 * serving TCP and UDP on ports 80 and 81. Each case gives its policies as manifests and the
 * expected reachability as a rule of its own, written from the case's text, not from podlab's code.
 */

export const namespaces = ['x', 'y', 'z'] as const;
export const podNames = ['a', 'b', 'c'] as const;

/** A pod of the matrix as a case's rule sees it. */
export interface Peer {
  ns: string;
  pod: string;
}

/** One probe of the truth table: from a pod to a pod's port. */
export interface Probe {
  from: Peer;
  to: Peer;
  port: number;
  protocol: 'TCP' | 'UDP';
}

export interface PolicyCase {
  /** The upstream test (or documentation example) it follows. */
  name: string;
  /** NetworkPolicy manifests, YAML documents. */
  manifests: string;
  /** Whether the probe should connect. */
  allowed(p: Probe): boolean;
  /** The ports and protocols whose columns it judges (default: TCP 80). */
  ports?: { port: number; protocol: 'TCP' | 'UDP' }[];
}

/** The lab's topology: `nodes` nodes, the 9 pods spread over them, namespaces labelled. */
export function matrixTopology(
  name: string,
  nodeSubnet: string,
  opts: { podCIDR?: string; nodes?: number } = {},
): string {
  const nodes = Array.from({ length: opts.nodes ?? 2 }, (_, i) => `{name: w${i + 1}}`).join(', ');
  const pods = namespaces.flatMap((ns, i) =>
    podNames.map(
      (pod, j) => `  - name: ${pod}
    namespace: ${ns}
    node: w${((i * 3 + j) % (opts.nodes ?? 2)) + 1}
    labels: {pod: ${pod}}
    containers:
      - name: serve
        ports:
          - {name: serve-80-tcp, containerPort: 80}
          - {name: serve-81-tcp, containerPort: 81}
          - {name: serve-80-udp, containerPort: 80, protocol: UDP}
          - {name: serve-81-udp, containerPort: 81, protocol: UDP}`,
    ),
  );
  return `apiVersion: podlab/v1
name: ${name}
cluster: {nodeSubnet: ${nodeSubnet}, podCIDR: ${opts.podCIDR ?? '10.77.0.0/16'}, domain: netpol.test}
nodes: [${nodes}]
namespaces:
  - {name: x, labels: {ns: x, team: red}}
  - {name: y, labels: {ns: y, team: red}}
  - {name: z, labels: {ns: z, team: blue}}
pods:
${pods.join('\n')}
`;
}

const is = (p: Peer, ns: string, pod?: string) => p.ns === ns && (pod === undefined || p.pod === pod);

/** Every case: at least one per kind the issue names, most from the upstream suite. */
export const cases: PolicyCase[] = [
  {
    name: "should support a 'default-deny-ingress' policy",
    manifests: `kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: deny-ingress, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress]}`,
    allowed: ({ to }) => !is(to, 'x'),
  },
  {
    name: "should support a 'default-deny-all' policy",
    manifests: `kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: deny-all, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}`,
    // Within x a pod still reaches itself (the table leaves the diagonal out).
    allowed: ({ from, to }) => !is(to, 'x') && !is(from, 'x'),
  },
  {
    name: 'should support allow-all policy',
    manifests: `kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: allow-all, namespace: x}
spec:
  podSelector: {}
  ingress: [{}]
  egress: [{}]
  policyTypes: [Ingress, Egress]`,
    allowed: () => true,
  },
  {
    name: 'should enforce policy to allow traffic from pods within server namespace based on PodSelector',
    manifests: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: x-a-allows-x-b, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]`,
    allowed: ({ from, to }) => !is(to, 'x', 'a') || is(from, 'x', 'b'),
  },
  {
    name: 'should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector',
    manifests: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-ns-y, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}}]}]`,
    allowed: ({ from, to }) => !is(to, 'x', 'a') || from.ns === 'y',
  },
  {
    name: 'should enforce policy based on PodSelector with MatchExpressions',
    manifests: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-b-expr, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
    - from: [{podSelector: {matchExpressions: [{key: pod, operator: In, values: [b]}]}}]`,
    allowed: ({ from, to }) => !is(to, 'x', 'a') || is(from, 'x', 'b'),
  },
  {
    name: 'should enforce policy based on NamespaceSelector with MatchExpressions (NotIn)',
    manifests: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-not-y, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
    - from: [{namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [y]}]}}]`,
    allowed: ({ from, to }) => !is(to, 'x', 'a') || from.ns !== 'y',
  },
  {
    name: 'should enforce policy based on PodSelector or NamespaceSelector (two peers: OR)',
    manifests: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-or-ns-y, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
    - from:
        - namespaceSelector: {matchLabels: {ns: y}}
        - podSelector: {matchLabels: {pod: b}}`,
    allowed: ({ from, to }) => !is(to, 'x', 'a') || from.ns === 'y' || is(from, 'x', 'b'),
  },
  {
    name: 'should enforce policy based on PodSelector and NamespaceSelector (one peer: AND)',
    manifests: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-in-ns-y, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
    - from:
        - namespaceSelector: {matchLabels: {ns: y}}
          podSelector: {matchLabels: {pod: b}}`,
    allowed: ({ from, to }) => !is(to, 'x', 'a') || is(from, 'y', 'b'),
  },
  {
    name: 'should enforce policy based on Multiple PodSelectors and NamespaceSelectors',
    manifests: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: multiple, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
    - from:
        - namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [x]}]}
          podSelector: {matchExpressions: [{key: pod, operator: In, values: [b, c]}]}`,
    allowed: ({ from, to }) => !is(to, 'x', 'a') || (from.ns !== 'x' && from.pod !== 'a'),
  },
  {
    name: 'should enforce policy to allow traffic based on NamespaceSelector with MatchLabels using default ns label',
    manifests: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-ns-label, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
    - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}]`,
    allowed: ({ from, to }) => !is(to, 'x', 'a') || from.ns === 'y',
  },
  {
    name: 'should enforce policy based on Ports',
    manifests: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: port-81, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{ports: [{port: 81, protocol: TCP}], from: [{namespaceSelector: {matchLabels: {ns: y}}}]}]`,
    ports: [
      { port: 80, protocol: 'TCP' },
      { port: 81, protocol: 'TCP' },
    ],
    allowed: ({ from, to, port }) => !is(to, 'x', 'a') || (from.ns === 'y' && port === 81),
  },
  {
    name: 'should allow ingress access from namespace on one named port',
    manifests: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: named-port, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: serve-80-tcp}], from: [{namespaceSelector: {matchLabels: {team: red}}}]}]`,
    ports: [
      { port: 80, protocol: 'TCP' },
      { port: 81, protocol: 'TCP' },
    ],
    allowed: ({ from, to, port }) => to.ns !== 'x' || (from.ns !== 'z' && port === 80),
  },
  {
    name: 'should allow egress access on one named port',
    manifests: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-named-port, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{ports: [{port: serve-81-tcp}]}]`,
    ports: [
      { port: 80, protocol: 'TCP' },
      { port: 81, protocol: 'TCP' },
    ],
    allowed: ({ from, port }) => from.ns !== 'x' || port === 81,
  },
  {
    name: 'should enforce policy to allow ingress traffic for a target (endPort)',
    manifests: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: end-port, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{ports: [{port: 81, endPort: 90, protocol: TCP}]}]`,
    ports: [
      { port: 80, protocol: 'TCP' },
      { port: 81, protocol: 'TCP' },
    ],
    allowed: ({ to, port }) => !is(to, 'x', 'a') || port === 81,
  },
  {
    name: 'should enforce ingress policy allowing any port traffic to a server on a specific protocol (UDP)',
    manifests: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: udp-only, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{ports: [{protocol: UDP}]}]`,
    ports: [
      { port: 80, protocol: 'TCP' },
      { port: 80, protocol: 'UDP' },
      { port: 81, protocol: 'UDP' },
    ],
    allowed: ({ to, protocol }) => !is(to, 'x', 'a') || protocol === 'UDP',
  },
  {
    name: 'should enforce multiple, stacked policies with overlapping podSelectors (union)',
    manifests: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-y, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-z, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: z}}}]}]`,
    allowed: ({ from, to }) => to.ns !== 'x' || from.ns === 'z' || (to.pod === 'a' && from.ns === 'y'),
  },
  {
    name: 'should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)',
    manifests: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-to-ns-y-a, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress: [{to: [{namespaceSelector: {matchLabels: {ns: y}}, podSelector: {matchLabels: {pod: a}}}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: y-allows-x-a, namespace: y}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: x}}, podSelector: {matchLabels: {pod: a}}}]}]`,
    allowed: ({ from, to }) =>
      (!is(from, 'x', 'a') || is(to, 'y', 'a')) && (to.ns !== 'y' || is(from, 'x', 'a')),
  },
  {
    name: 'should enforce policies to check ingress and egress policies can be controlled independently based on PodSelector',
    manifests: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-egress-from-a, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-ingress-to-b, namespace: x}
spec:
  podSelector: {matchLabels: {pod: b}}
  policyTypes: [Ingress]`,
    allowed: ({ from, to }) => !is(from, 'x', 'a') && !is(to, 'x', 'b'),
  },
];

/** The ipBlock cases need the pods' addresses: built from the plan's. */
export function ipBlockCases(ipOf: (p: Peer) => string, podCIDR: string): PolicyCase[] {
  return [
    {
      name: 'should enforce except clause while egress access to server in CIDR block',
      manifests: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-except, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
    - to: [{ipBlock: {cidr: ${podCIDR}, except: ['${ipOf({ ns: 'y', pod: 'a' })}/32']}}]`,
      allowed: ({ from, to }) => !is(from, 'x', 'a') || !is(to, 'y', 'a'),
    },
    {
      name: 'should allow ingress access from an ipBlock with except',
      manifests: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ingress-except, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
    - from: [{ipBlock: {cidr: ${podCIDR}, except: ['${ipOf({ ns: 'z', pod: 'c' })}/32']}}]`,
      allowed: ({ from, to }) => !is(to, 'x', 'a') || !is(from, 'z', 'c'),
    },
  ];
}

/** The DNS case: default-deny egress in x with DNS to kube-system allowed (the documentation's example). */
export const dnsCase: PolicyCase = {
  name: 'egress to DNS only (UDP and TCP 53 to kube-system)',
  manifests: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: dns-only, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}]
      ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]`,
  allowed: ({ from }) => from.ns !== 'x',
};

/** Every ordered pair of distinct pods and each port of the case: the rows of its truth table. */
export function probesOf(c: PolicyCase): Probe[] {
  const peers = namespaces.flatMap((ns) => podNames.map((pod) => ({ ns, pod })));
  return peers.flatMap((from) =>
    peers
      .filter((to) => to.ns !== from.ns || to.pod !== from.pod)
      .flatMap((to) =>
        (c.ports ?? [{ port: 80, protocol: 'TCP' as const }]).map((p) => ({ from, to, ...p })),
      ),
  );
}

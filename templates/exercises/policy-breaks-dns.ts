import { stringify } from 'yaml';
import type { NetworkPolicyConfig } from '../../src/config/types.js';
import type { ExerciseLab } from '../../src/exercises/api.js';
import type { Exercise } from '../../src/exercises/exercise.js';
import { judge, policyKey } from '../../src/plan/policy.js';
import { policy } from './shared.js';

// A namespace gets a default-deny egress policy, as security reviews ask for. Its pods can no longer
// reach the cluster DNS server, so no Service name resolves there. The fix keeps the default-deny and
// allows DNS (UDP and TCP 53) to the DNS pods, and nothing more.

const denyName = 'default-deny-egress';

/** The namespace that loses DNS: the first one with a pod, besides kube-system (in the example: bar). */
function namespaceOf(lab: ExerciseLab): string {
  const pod = lab.plan.pods.find((p) => p.namespace !== 'kube-system');
  lab.assert.ok(pod, 'this exercise needs a pod outside kube-system');
  return pod!.namespace;
}

const denyAll = (ns: string) => policy(ns, denyName, { podSelector: {}, policyTypes: ['Egress'] });

/** The intended fix: egress to the DNS pods on 53, UDP and TCP. */
const allowDns = (ns: string): NetworkPolicyConfig =>
  policy(ns, 'allow-dns', {
    podSelector: {},
    policyTypes: ['Egress'],
    egress: [
      {
        to: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
            podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
          },
        ],
        ports: [
          { protocol: 'UDP', port: 53 },
          { protocol: 'TCP', port: 53 },
        ],
      },
    ],
  });

const exercise: Exercise = {
  id: 'policy-breaks-dns',
  title: 'A default-deny egress policy that also denies DNS',
  description:
    'Security asked for a default-deny egress NetworkPolicy in one namespace, and got it. Since then no ' +
    'Service name resolves from the pods of that namespace, though the DNS server runs and answers the ' +
    'others. Keep the default-deny as it is and let the namespace’s pods reach DNS, and nothing else.',
  hints: [
    'lab policy ls shows which policies the lab has and whom they select.',
    'lab policy explain NS/POD kube-system/kube-dns-0 53/UDP says what decides a pod’s DNS queries.',
    'Egress rules add up: a second policy in the namespace may allow UDP and TCP port 53 to the pods of kube-system labelled k8s-app=kube-dns (namespaceSelector kubernetes.io/metadata.name: kube-system). Apply it with lab policy apply FILE.',
  ],
  // Reset deletes the default-deny and a fix under the hints' name; `policy:*`: one policy exercise at a time.
  touches: (lab) => [
    'policy:*',
    `policy:${namespaceOf(lab)}/${denyName}`,
    `policy:${namespaceOf(lab)}/allow-dns`,
  ],
  async setup(lab) {
    await lab.policies.apply([denyAll(namespaceOf(lab))]);
  },
  async check(lab) {
    const ns = namespaceOf(lab);
    const deny = (await lab.policies.list()).find((p) => policyKey(p) === `${ns}/${denyName}`);
    lab.assert.ok(
      deny && JSON.stringify(deny.spec) === JSON.stringify(denyAll(ns).spec),
      `the NetworkPolicy ${ns}/${denyName} must stay as security wrote it`,
    );
    const state = await lab.status();
    const view = state.plan!.policy;
    const dns = view.pods.find((p) => p.key === state.plan!.dns.pod)!;
    const clients = view.pods.filter((p) => p.namespace === ns);
    for (const client of clients)
      for (const protocol of ['UDP', 'TCP'] as const)
        lab.assert.ok(
          judge(view, { pod: client }, { pod: dns }, 53, protocol).allowed,
          `${client.key} cannot reach the cluster DNS server (${dns.key}) on 53/${protocol}: Service names do not resolve there`,
        );
    // Everything else stays denied: the fix may not open the namespace's egress.
    const others = view.pods.filter((p) => p.namespace !== ns && p.key !== dns.key);
    for (const client of clients)
      for (const other of others)
        lab.assert.ok(
          !judge(view, { pod: client }, { pod: other }, 80, 'TCP').allowed,
          `${client.key} reaches ${other.key} on 80/TCP: the namespace's egress must stay denied but for DNS`,
        );
    await lab.assert.checks('network-policy', 'dns-same-namespace', 'dns-cross-namespace');
  },
  solution(lab) {
    return [
      {
        lab: ['policy', 'apply', 'allow-dns.yaml'],
        file: { name: 'allow-dns.yaml', text: stringify(allowDns(namespaceOf(lab))) },
      },
    ];
  },
};

export default exercise;

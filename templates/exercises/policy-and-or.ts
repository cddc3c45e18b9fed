import { stringify } from 'yaml';
import type { NetworkPolicyConfig, PolicyPeer } from '../../src/config/types.js';
import type { ExerciseLab } from '../../src/exercises/api.js';
import type { Exercise } from '../../src/exercises/exercise.js';
import { judge, type PolicyPod, type PolicyView, policyKey } from '../../src/plan/policy.js';
import { policy } from './shared.js';

// A policy meant as "pods labelled L in namespace B may reach T" written with two peers: one entry
// of `from` with the namespaceSelector, another with the podSelector. Two entries are alternatives
// (OR), so every pod of B and every pod labelled L in T's own namespace get in. One entry with both
// selectors means both (AND).

interface Setting {
  target: PolicyPod;
  /** The namespace and labels of the intended clients. */
  namespace: string;
  labels: Record<string, string>;
}

const namespaceOnly = (ns: string): PolicyPeer => ({
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
});

/** The policy as written (two peers: OR) or as meant (one peer: AND). */
function written(s: Setting, meant: boolean): NetworkPolicyConfig {
  const from: PolicyPeer[] = meant
    ? [{ ...namespaceOnly(s.namespace), podSelector: { matchLabels: s.labels } }]
    : [namespaceOnly(s.namespace), { podSelector: { matchLabels: s.labels } }];
  return policy(s.target.namespace, `${s.target.name}-clients`, {
    podSelector: Object.keys(s.target.labels).length ? { matchLabels: s.target.labels } : {},
    policyTypes: ['Ingress'],
    ingress: [{ from }],
  });
}

/** Who may reach the target under a set of policies (every other pod, judged on 80/TCP). */
function admitted(view: PolicyView, target: PolicyPod): string[] {
  return view.pods
    .filter((p) => p.key !== target.key && judge(view, { pod: p }, { pod: target }, 80, 'TCP').allowed)
    .map((p) => p.key);
}

/**
 * A target with labels and clients labelled in another namespace, where the OR lets in more than
 * the AND (in the example: quux/client… or bar's app=foo pods as the clients of a quux pod).
 */
function settingOf(lab: ExerciseLab): Setting {
  const pods = lab.plan.policy.pods.filter((p) => p.namespace !== 'kube-system');
  for (const target of pods)
    for (const client of pods) {
      if (client.namespace === target.namespace || Object.keys(client.labels).length === 0) continue;
      const s: Setting = { target, namespace: client.namespace, labels: client.labels };
      const view = (meant: boolean) => ({ ...lab.plan.policy, policies: [written(s, meant)] });
      if (admitted(view(false), target).length > admitted(view(true), target).length) return s;
    }
  lab.assert.ok(
    false,
    'this exercise needs a labelled pod in one namespace and, in another, a pod besides it that the wrong policy would let in',
  );
  throw new Error('unreachable');
}

const exercise: Exercise = {
  id: 'policy-and-or',
  title: 'A NetworkPolicy that lets in far more than meant',
  description:
    'A NetworkPolicy was written so that only some pods of one namespace may connect to a pod of another. ' +
    'Yet pods it was meant to keep out get in. Find the policy and correct it, so that exactly the pods it was ' +
    'meant for get in (the policy keeps its name).',
  hints: [
    'lab policy ls lists the policies; lab policy explain FROM TO 80 names the rule that lets FROM in.',
    'Look at the entries of its `from` list: how many are there, and what does each select on its own?',
    'Two entries of `from` are alternatives (OR). A podSelector and a namespaceSelector in one entry must both match (AND).',
  ],
  touches: (lab) => {
    const s = settingOf(lab);
    return ['policy:*', `policy:${policyKey(written(s, false))}`];
  },
  async setup(lab) {
    await lab.policies.apply([written(settingOf(lab), false)]);
  },
  async check(lab) {
    const s = settingOf(lab);
    const key = policyKey(written(s, true));
    const state = await lab.status();
    const now = state.plan!.policy;
    lab.assert.ok(
      now.policies.some((p) => policyKey(p) === key),
      `the NetworkPolicy ${key} is gone; correct it instead (lab policy apply with the same name)`,
    );
    const target = now.pods.find((p) => p.key === s.target.key)!;
    const wanted = admitted({ ...now, policies: [written(s, true)] }, target);
    const seen = admitted(now, target);
    const extra = seen.filter((k) => !wanted.includes(k));
    const missing = wanted.filter((k) => !seen.includes(k));
    lab.assert.ok(
      extra.length === 0,
      `${extra.join(', ')} still reach ${target.key}, though the policy was not meant for them`,
    );
    lab.assert.ok(
      missing.length === 0,
      `${missing.join(', ')} no longer reach ${target.key}, though the policy was meant for them`,
    );
    await lab.assert.checks('network-policy');
  },
  solution(lab) {
    return [
      {
        lab: ['policy', 'apply', 'fixed-policy.yaml'],
        file: { name: 'fixed-policy.yaml', text: stringify(written(settingOf(lab), true)) },
      },
    ];
  },
};

export default exercise;

import type { Exercise } from '../../src/exercises/exercise.js';
import { clientOf, targetService } from './shared.js';

const exercise: Exercise = {
  id: 'resolver-search',
  title: 'A pod lost its DNS search list',
  description:
    'One pod can no longer reach a Service of its own namespace by its short name, though the full name ' +
    'still works. Kubernetes pods resolve short names through the search list the kubelet writes into ' +
    '/etc/resolv.conf. Find the pod and give it its search list back.',
  hints: [
    'Run lab test: which pod does dns-same-namespace name?',
    'lab dns NAME --from NS/POD shows which names the resolver tries; compare with a healthy pod.',
    'A pod of namespace NS searches NS.svc.DOMAIN svc.DOMAIN DOMAIN (see /etc/resolv.conf of another pod).',
  ],
  touches: (lab) => [`resolv:${clientOf(lab, targetService(lab))}`],
  async setup(lab) {
    const pod = clientOf(lab, targetService(lab));
    // resolv.conf is bind-mounted: rewrite it in place rather than replacing the file.
    await lab.pod(pod)
      .$`grep -v '^search ' /etc/resolv.conf > /tmp/resolv.conf && cat /tmp/resolv.conf > /etc/resolv.conf`;
  },
  async check(lab) {
    await lab.assert.checks('dns-same-namespace', 'dns-resolv-conf');
  },
  solution(lab) {
    const svc = targetService(lab);
    const domain = lab.plan.domain;
    const search = `search ${svc.namespace}.svc.${domain} svc.${domain} ${domain}`;
    return [[clientOf(lab, svc), 'sh', '-c', 'echo "$1" >> /etc/resolv.conf', 'sh', search]];
  },
};

export default exercise;

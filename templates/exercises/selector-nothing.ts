import type { Exercise } from '../../src/exercises/exercise.js';
import { loadRulesSteps, replanService, targetService } from './shared.js';

const exercise: Exercise = {
  id: 'selector-nothing',
  title: 'A Service whose selector matches nothing',
  description:
    'Connections to a Service are refused at once, though its pods run and answer on their own IPs. ' +
    'kube-proxy sends a Service’s traffic only to the endpoints its selector picks; with none, it rejects. ' +
    'Find the Service and program the rules kube-proxy writes for it, on every node.',
  hints: [
    'Which Service does pod-to-service name? Try its ClusterIP from a pod: lab exec NS/POD -- curl -v IP',
    'lab exec NODE -- iptables-save -t filter shows a REJECT "has no endpoints" rule for it.',
    'kube-proxy’s rules for a Service: a KUBE-SERVICES jump to KUBE-SVC-*, one KUBE-SEP-* per endpoint with a DNAT to ip:port (lab plan --json shows them under serviceRules).',
  ],
  touches: (lab) => lab.plan.nodes.map((n) => `rules:${n.name}`),
  async setup(lab) {
    const svc = targetService(lab);
    const broken = replanService(lab, svc, (s) => {
      s.selector = { app: 'nobody-has-this-label' };
    });
    await lab.loadServiceRules(broken.serviceRules);
  },
  async check(lab) {
    await lab.assert.checks('pod-to-service');
  },
  solution(lab) {
    // The rules kube-proxy writes for the Service as it should be; loading them also drops the REJECT.
    return [...loadRulesSteps(lab, lab.plan.serviceRules)];
  },
};

export default exercise;

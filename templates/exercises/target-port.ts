import type { ExerciseLab } from '../../src/exercises/api.js';
import type { Exercise } from '../../src/exercises/exercise.js';
import type { ServicePlan } from '../../src/plan/types.js';
import { replanService, targetService } from './shared.js';

const wrongPort = 8081;

/** The lab's plan with the Service's ports sent to `wrongPort`: what setup loads, and what the fix repairs. */
function brokenPlan(lab: ExerciseLab, svc: ServicePlan) {
  return replanService(lab, svc, (s) => {
    s.ports = s.ports.map((p) => ({ ...p, targetPort: wrongPort }));
  });
}

const exercise: Exercise = {
  id: 'target-port',
  title: 'A Service sends traffic to the wrong port',
  description:
    'Connections to a Service are refused, though its pods run and its rules are there. A Service maps ' +
    'its port to a targetPort on the pods; here the endpoints are sent to a port nothing listens on. ' +
    'Find the DNAT rules and point them at the port the pods listen on.',
  hints: [
    'Which Service does pod-to-service name? Curl one of its pods directly on its IP: which port answers?',
    'lab exec NODE -- iptables -t nat -S | grep DNAT shows where each endpoint chain (KUBE-SEP-*) sends traffic.',
    'Replace the DNAT rule of each KUBE-SEP-* chain (iptables -t nat -R CHAIN 2 …) on every node.',
  ],
  touches: (lab) => lab.plan.nodes.map((n) => `rules:${n.name}`),
  async setup(lab) {
    const svc = targetService(lab);
    const broken = brokenPlan(lab, svc);
    await lab.loadServiceRules(broken.serviceRules);
  },
  async check(lab) {
    await lab.assert.checks('pod-to-service');
  },
  solution(lab) {
    const svc = targetService(lab);
    const broken = brokenPlan(lab, svc);
    // Each endpoint chain's second rule is its DNAT: point it at the port the pod listens on.
    const good = svc.ports.flatMap((p) => p.endpoints.map((e) => `${e.ip}:${e.port}`));
    const dnat = broken.serviceRules
      .split('\n')
      .filter(
        (l) =>
          l.startsWith('-A KUBE-SEP-') && l.includes(` --to-destination `) && l.includes(`:${wrongPort}`),
      );
    return lab.plan.nodes.flatMap((n) =>
      dnat.map((line): [string, ...string[]] => {
        const chain = line.split(' ')[1]!;
        const ip = line.split('--to-destination ')[1]!.split(':')[0]!;
        const target = good.find((g) => g.startsWith(`${ip}:`))!;
        return [
          n.name,
          'iptables',
          '-t',
          'nat',
          '-R',
          chain,
          '2',
          '-p',
          'tcp',
          '-m',
          'tcp',
          '-j',
          'DNAT',
          '--to-destination',
          target,
        ];
      }),
    );
  },
};

export default exercise;

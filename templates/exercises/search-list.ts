import type { ExerciseLab } from '../../src/exercises/api.js';
import type { Exercise } from '../../src/exercises/exercise.js';
import { targetService } from './shared.js';

/** Where the client keeps the name of the Service it talks to. */
const config = '/etc/podlab-client/target';

/** A pod in another namespace than the Service's (in the example: quux/client). */
function outsider(lab: ExerciseLab): string {
  const svc = targetService(lab);
  const pod = lab.plan.pods.find((p) => p.namespace !== svc.namespace && p.namespace !== 'kube-system');
  lab.assert.ok(pod, `this exercise needs a pod in another namespace than ${svc.namespace}`);
  return pod!.key;
}

const exercise: Exercise = {
  id: 'search-list',
  title: 'A client in another namespace asks for the short name',
  description:
    'A client pod reads the name of the Service it talks to from /etc/podlab-client/target, and it gets no ' +
    'answer: the name does not resolve. The Service exists, its pods answer, and DNS works. Kubernetes ' +
    'resolves a short name only in the pod’s own namespace. Find out why this client’s name does not ' +
    'resolve and fix the client: not the DNS server, not its search list.',
  hints: [
    'Which client is it, and which name does it read? lab exec NS/POD -- cat /etc/podlab-client/target',
    'lab dns NAME --from NS/POD shows every name its resolver tries, and where the Service really is.',
    'A pod of namespace quux searches quux.svc.DOMAIN first: a Service of namespace bar is NAME.bar from there.',
  ],
  touches: (lab) => [`client:${outsider(lab)}`],
  async setup(lab) {
    const svc = targetService(lab);
    await lab.pod(outsider(lab)).$`mkdir -p /etc/podlab-client && echo ${svc.name} > ${config}`;
  },
  async check(lab) {
    const pod = outsider(lab);
    const svc = targetService(lab);
    const port = svc.ports.find((p) => p.protocol === 'TCP')!.port;
    const name = (await lab.pod(pod).$`cat ${config}`).stdout.trim();
    const answer = await lab.pod(pod).nothrow`curl -s -m 5 http://${name}:${port}/`;
    lab.assert.ok(
      answer.exitCode === 0,
      `${pod} cannot reach "${name}": ${answer.exitCode === 6 ? 'the name does not resolve from its namespace' : `curl exit ${answer.exitCode}`}`,
    );
    // Fixed in the client: the short name must still not resolve outside the Service's namespace,
    // and the pod's resolver must be the kubelet's.
    await lab.assert.checks('dns-cross-namespace', 'dns-resolv-conf');
  },
  async reset(lab) {
    await lab.pod(outsider(lab)).$`rm -rf /etc/podlab-client`;
  },
  solution(lab) {
    const svc = targetService(lab);
    return [[outsider(lab), 'sh', '-c', `echo ${svc.name}.${svc.namespace} > ${config}`]];
  },
};

export default exercise;

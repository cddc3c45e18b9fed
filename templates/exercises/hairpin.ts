import type { ExerciseLab } from '../../src/exercises/api.js';
import type { Exercise } from '../../src/exercises/exercise.js';
import { targetService } from './shared.js';

/** An endpoint of the Service (in the example: bar/web-0) and the node it runs on. */
function endpoint(lab: ExerciseLab) {
  const svc = targetService(lab);
  const ep = svc.ports.find((p) => p.protocol === 'TCP')!.endpoints[0]!;
  return { pod: ep.pod, node: ep.node, svc, port: svc.ports.find((p) => p.protocol === 'TCP')!.port };
}

/** The bridge port (the veth on the node) of a pod: the interface whose index its eth0 names as peer. */
async function bridgePort(lab: ExerciseLab, pod: string, node: string): Promise<string> {
  const index = (await lab.pod(pod).$`cat /sys/class/net/eth0/iflink`).stdout.trim();
  const links = (await lab.node(node).$`ip -o link show`).stdout.split('\n');
  const line = links.find((l) => l.startsWith(`${index}: `));
  lab.assert.ok(line, `no interface ${index} on node ${node} for ${pod}`);
  return line!.split(': ')[1]!.split('@')[0]!;
}

const exercise: Exercise = {
  id: 'hairpin',
  title: 'A pod cannot reach itself through its own Service',
  description:
    'A pod that calls its own Service gets an answer only now and then: whenever kube-proxy picks the pod ' +
    'itself as the endpoint, the reply is lost. Other pods reach the Service fine. The reply has to leave ' +
    'the pod’s bridge port and come back in through the same port. Find the setting of that port and fix it.',
  hints: [
    'From the endpoint pod: lab exec NS/POD -- sh -c "for i in 1 2 3 4 5 6; do curl -s -m 2 SERVICE; echo; done"',
    'Its packets to itself go out through its veth on the node and must come back the same way: lab exec NODE -- bridge -d link',
    'The bridge CNI plugin sets hairpinMode on every pod port; one port has it off.',
  ],
  touches: (lab) => [`hairpin:${endpoint(lab).pod}`],
  async setup(lab) {
    const { pod, node } = endpoint(lab);
    const port = await bridgePort(lab, pod, node);
    await lab.node(node).$`bridge link set dev ${port} hairpin off`;
  },
  async check(lab) {
    const { pod, svc, port } = endpoint(lab);
    const tries = await lab.pod(pod)
      .nothrow`for i in $(seq 1 16); do curl -s -m 2 -o /dev/null -w '%{http_code}\n' http://${svc.clusterIP}:${port}/ || echo lost; done`;
    const lost = tries.stdout.split('\n').filter((l) => l.trim() === 'lost' || l.trim() === '000').length;
    lab.assert.ok(
      lost === 0,
      `${pod} reaching its own Service ${svc.key}: ${lost} of 16 connections got no answer`,
    );
    await lab.assert.checks('pod-to-service');
  },
  async reset(lab) {
    const { pod, node } = endpoint(lab);
    await lab.node(node).$`bridge link set dev ${await bridgePort(lab, pod, node)} hairpin on`;
  },
  async solution(lab) {
    const { pod, node } = endpoint(lab);
    return [[node, 'bridge', 'link', 'set', 'dev', await bridgePort(lab, pod, node), 'hairpin', 'on']];
  },
};

export default exercise;

import type { Exercise } from '../../src/exercises/exercise.js';
import { nodePair } from './shared.js';

const exercise: Exercise = {
  id: 'missing-route',
  title: "A node lost its route to another node's pods",
  description:
    'Some pods can no longer talk to pods on another node, while everything else works. ' +
    'Pod-to-pod traffic between nodes needs, on every node, a route to each other node’s pod range ' +
    'through that node. Find the node that lacks one and add it back.',
  hints: [
    'Run lab test: which checks fail, and which pods does pod-to-pod-no-nat name?',
    'Compare lab exec NODE -- ip route on each node: every node should list every other node’s pod range.',
    'lab status shows each node’s IP and pod range; a route reads: ip route add <range> via <node IP> (host-gw; over VXLAN, compare with the other nodes’ routes through flannel.1).',
  ],
  touches: (lab) => [`routes:${nodePair(lab).from.name}`],
  async setup(lab) {
    const { from, to } = nodePair(lab);
    await lab.node(from.name).$`ip route del ${to.podCIDR}`;
  },
  async check(lab) {
    await lab.assert.checks('node-routes', 'pod-to-pod-no-nat');
  },
  solution(lab) {
    const { from, to } = nodePair(lab);
    // The route as the lab's backend has it: via the node IP (host-gw), or through flannel.N (vxlan).
    const planned = from.routes.find((r) => r.split(' ')[2] === to.podCIDR)!;
    return [[from.name, 'ip', ...planned.replace('route replace', 'route add').split(' ')]];
  },
};

export default exercise;

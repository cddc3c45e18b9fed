import type { Exercise } from '../../src/exercises/exercise.js';
import { nodePair, overlayOf } from './shared.js';

const exercise: Exercise = {
  id: 'fdb-missing',
  title: 'A VXLAN node forgot where another node is',
  description:
    'On a flannel VXLAN cluster, pods on one node can no longer reach pods on one other node, and only ' +
    'that pair is broken; every route is in place. Over VXLAN a node finds the node behind a peer’s ' +
    'device MAC in its forwarding database (FDB). Find the entry that is missing and put it back.',
  hints: [
    'Run lab test: which node pair do pod-to-pod-no-nat and node-routes name?',
    'Compare lab exec NODE -- bridge fdb show dev flannel.1 on the nodes: each lists every other node’s device MAC with dst <its node IP>.',
    'ip neigh show dev flannel.1 gives each peer’s MAC; an entry reads: bridge fdb append <MAC> dev flannel.1 dst <node IP> self permanent',
  ],
  touches: (lab) => [`overlay:${nodePair(lab).from.name}`],
  async setup(lab) {
    const { from, to } = nodePair(lab);
    const overlay = overlayOf(lab, from.name);
    const peer = overlayOf(lab, to.name);
    await lab.node(from.name).$`bridge fdb del ${peer.mac} dev ${overlay.device} dst ${to.ip} self`;
  },
  async check(lab) {
    await lab.assert.checks('node-routes', 'pod-to-pod-no-nat');
  },
  solution(lab) {
    const { from, to } = nodePair(lab);
    const overlay = overlayOf(lab, from.name);
    const peer = overlayOf(lab, to.name);
    return [
      [
        from.name,
        'bridge',
        'fdb',
        'append',
        peer.mac,
        'dev',
        overlay.device,
        'dst',
        to.ip,
        'self',
        'permanent',
      ],
    ];
  },
};

export default exercise;

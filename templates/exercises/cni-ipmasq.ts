import type { Exercise } from '../../src/exercises/exercise.js';
import { cniConfigPath } from '../../src/plan/names.js';
import { nodePair } from './shared.js';

const config = cniConfigPath;

const exercise: Exercise = {
  id: 'cni-ipmasq',
  title: 'A node masquerades its pods',
  description:
    'Everything is reachable, yet lab test says some pods are not seen with their own IP: their packets ' +
    'leave their node with the node’s address. Kubernetes forbids NAT between pods. Find the CNI setting ' +
    'that caused it on that node, turn it off, and remove the NAT rules it installed.',
  hints: [
    'Which pods does pod-to-pod-no-nat name, and which address did their peers see instead?',
    'On that node, look at the NAT rules that moved: lab exec NODE -- iptables -t nat -L POSTROUTING -v -n',
    `The bridge plugin masquerades when its config says so: lab exec NODE -- cat ${config}`,
    'Set "ipMasq" back to false in that file, then drop the jumps to the CNI-* chains from nat POSTROUTING (iptables -t nat -D POSTROUTING …).',
  ],
  touches: (lab) => [`cni:${nodePair(lab).from.name}`],
  async setup(lab) {
    const { from } = nodePair(lab);
    // Wire the node's pods in again with ipMasq on, as a runtime would after the config changed.
    await lab.cni(from.name, 'DEL');
    await lab.node(from.name).$`sed -i 's/"ipMasq": false/"ipMasq": true/' ${config}`;
    await lab.cni(from.name, 'ADD');
  },
  async check(lab) {
    const { from } = nodePair(lab);
    await lab.assert.checks('pod-to-pod-no-nat', 'self-ip-equals-seen-ip');
    // The traffic is right again; the config must be too, or the next pod wired in is masqueraded.
    const masq = (await lab.node(from.name).$`jq -r .ipMasq ${config}`).stdout.trim();
    lab.assert.equal(masq, 'false', `ipMasq in ${config} on ${from.name}`);
  },
  solution(lab) {
    const { from } = nodePair(lab);
    return [
      [from.name, 'sed', '-i', 's/"ipMasq": true/"ipMasq": false/', config],
      [
        from.name,
        'sh',
        '-c',
        "iptables-save -t nat | grep -v -e '^-A POSTROUTING .*-j CNI-' | iptables-restore -T nat",
      ],
    ];
  },
};

export default exercise;

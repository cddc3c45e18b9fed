import type { Exercise } from '../../src/exercises/exercise.js';
import { nodePortService } from './shared.js';

/** The node that loses the rule: the last one. */
const victim = (nodes: { name: string }[]) => nodes[nodes.length - 1]!.name;

const exercise: Exercise = {
  id: 'nodeport-missing',
  title: 'A NodePort that one node forgot',
  description:
    'A NodePort Service answers on every node’s IP but one. kube-proxy programs NodePorts on every node, ' +
    'in the KUBE-NODEPORTS chain. Find the node that lacks the rule and add it back.',
  hints: [
    'Which node does nodeport-external name? Ask it from another node: lab exec OTHER-NODE -- curl http://NODE-IP:NODEPORT/',
    'Compare lab exec NODE -- iptables -t nat -S KUBE-NODEPORTS across nodes.',
    'The rule jumps to the Service’s KUBE-EXT-* chain: iptables -t nat -A KUBE-NODEPORTS -p tcp -m tcp --dport PORT -j KUBE-EXT-…',
  ],
  touches: (lab) => [`rules:${victim(lab.plan.nodes)}`],
  async setup(lab) {
    const { nodePort } = nodePortService(lab);
    const pattern = `^-A KUBE-NODEPORTS .*--dport ${nodePort} `;
    await lab.node(victim(lab.plan.nodes))
      .$`iptables-save -t nat | grep -v -e ${pattern} | iptables-restore -T nat`;
  },
  async check(lab) {
    await lab.assert.checks('nodeport-external');
  },
  solution(lab) {
    const { nodePort } = nodePortService(lab);
    const rule = lab.plan.serviceRules
      .split('\n')
      .find((l) => l.startsWith('-A KUBE-NODEPORTS') && l.includes(`--dport ${nodePort} `))!;
    const chain = rule.split(' -j ')[1]!;
    return [
      [
        victim(lab.plan.nodes),
        'iptables',
        '-t',
        'nat',
        '-A',
        'KUBE-NODEPORTS',
        '-p',
        'tcp',
        '-m',
        'tcp',
        '--dport',
        String(nodePort),
        '-j',
        chain,
      ],
    ];
  },
};

export default exercise;

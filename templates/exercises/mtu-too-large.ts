import type { Exercise } from '../../src/exercises/exercise.js';
import { cniConfigPath } from '../../src/plan/names.js';
import { nodePair, overlayOf, podMtuScript } from './shared.js';

const config = cniConfigPath;

const exercise: Exercise = {
  id: 'mtu-too-large',
  title: 'Pods on one node send packets too large for the VXLAN tunnel',
  description:
    'On a flannel VXLAN cluster, pods on one node were wired in with MTU 1500. VXLAN adds 50 bytes to ' +
    'every packet between nodes, so the tunnel carries less than the node network: a pod must leave ' +
    'room for it. Short requests work; full-size packets do not fit. Find the MTU that is wrong, fix the ' +
    'setting that caused it, and give that node’s pods the MTU the tunnel carries.',
  hints: [
    'Run lab test: what does pod-mtu say, and what MTU does it show on each hop?',
    'Compare lab exec NODE -- ip link show on two nodes (cni0, flannel.1, the veths), and the CNI config: lab exec NODE -- cat ' +
      config,
    'Set "mtu" in the CNI config back to what the tunnel carries (flannel.1’s MTU). Pods keep the MTU they were wired in with: from the node, nsenter -t <PID of the pod’s sandbox> -n ip link set eth0 mtu <MTU>.',
  ],
  touches: (lab) => [`cni:${nodePair(lab).to.name}`],
  async setup(lab) {
    const { to } = nodePair(lab);
    overlayOf(lab, to.name);
    // Wire the node's pods in again with MTU 1500, as a runtime would after the config changed.
    await lab.cni(to.name, 'DEL');
    await lab.node(to.name)
      .$`sh -c ${`jq '.mtu = 1500' ${config} > ${config}.new && mv ${config}.new ${config}`}`;
    await lab.cni(to.name, 'ADD');
  },
  async check(lab) {
    const { to } = nodePair(lab);
    const overlay = overlayOf(lab, to.name);
    await lab.assert.checks('pod-mtu', 'pod-to-pod-no-nat');
    // The pods are right again; the config must be too, or the next pod wired in gets 1500.
    const mtu = (await lab.node(to.name).$`jq -r .mtu ${config}`).stdout.trim();
    lab.assert.equal(mtu, String(overlay.mtu), `mtu in ${config} on ${to.name}`);
  },
  solution(lab) {
    const { to } = nodePair(lab);
    const { mtu } = overlayOf(lab, to.name);
    return [
      [to.name, 'sh', '-c', `jq '.mtu = ${mtu}' ${config} > ${config}.new && mv ${config}.new ${config}`],
      // Every pod sandbox of the node, its eth0 to the tunnel's MTU.
      [to.name, 'sh', '-c', podMtuScript(mtu)],
    ];
  },
};

export default exercise;

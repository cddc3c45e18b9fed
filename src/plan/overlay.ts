import { defaults, type Topology } from '../config/types.js';
import { formatIp, parseCidr } from '../net/ipv4.js';

/** A node as the overlay sees it. */
export interface OverlayPeer {
  name: string;
  ip: string;
  podCIDR: string;
}

/** A node's VXLAN device and what it knows of every other node (flannel's vxlan backend). */
export interface OverlayPlan {
  /** `flannel.<vni>`. */
  device: string;
  vni: number;
  port: number;
  /** Fixed by the plan, so that every node knows every other node's without asking. */
  mac: string;
  /** The node's pod range network address, a /32 on the device (flannel's convention). */
  address: string;
  mtu: number;
  /** `ip -batch` lines that create the device, once, when the node is configured. */
  setup: string[];
  /** `ip -batch` lines: a permanent neighbour entry per other node. */
  neighbours: string[];
  /** `bridge -batch` lines: an FDB entry per other node, sending its MAC to its node IP. */
  fdb: string[];
}

/** The VXLAN settings of a topology; undefined for host-gw. */
export function vxlanOf(topology: Topology): { vni: number; port: number } | undefined {
  return topology.cni.backend === 'vxlan' ? (topology.cni.vxlan ?? defaults.vxlan) : undefined;
}

/** The MTU a VXLAN device (and so a pod) can carry over a node network of MTU `underlay`. */
export const tunnelMtu = (underlay: number = defaults.nodeNetworkMtu) => underlay - defaults.vxlanOverhead;

/** A locally administered unicast MAC made of the node IP: `0e:70:` and its four bytes. */
export function overlayMac(nodeIp: string): string {
  return ['0e', '70', ...nodeIp.split('.').map((b) => Number(b).toString(16).padStart(2, '0'))].join(':');
}

/** The network address of a pod range (`10.244.1.0/24` → `10.244.1.0`). */
export function rangeAddress(podCIDR: string): string {
  return formatIp(parseCidr(podCIDR).base);
}

/** A node's overlay, as flannel's vxlan backend sets it up (pure). */
export function planOverlay(
  vxlan: { vni: number; port: number },
  node: OverlayPeer,
  others: OverlayPeer[],
  underlay: number = defaults.nodeNetworkMtu,
): OverlayPlan {
  const mtu = tunnelMtu(underlay);
  const device = `flannel.${vxlan.vni}`;
  const mac = overlayMac(node.ip);
  const address = rangeAddress(node.podCIDR);
  return {
    device,
    vni: vxlan.vni,
    port: vxlan.port,
    mac,
    address,
    mtu,
    setup: [
      `link add ${device} address ${mac} type vxlan id ${vxlan.vni} local ${node.ip} dev eth0 dstport ${vxlan.port} nolearning`,
      `link set ${device} mtu ${mtu} up`,
      `addr replace ${address}/32 dev ${device}`,
    ],
    neighbours: others.map(
      (o) =>
        `neigh replace ${rangeAddress(o.podCIDR)} lladdr ${overlayMac(o.ip)} dev ${device} nud permanent`,
    ),
    fdb: others.map((o) => `fdb replace ${overlayMac(o.ip)} dev ${device} dst ${o.ip} self permanent`),
  };
}

/** The route to another node's pod range: via its range address on the device (vxlan) or via its node IP (host-gw). */
export function peerRoute(other: OverlayPeer, device: string | undefined): string {
  return device
    ? `route replace ${other.podCIDR} via ${rangeAddress(other.podCIDR)} dev ${device} onlink`
    : `route replace ${other.podCIDR} via ${other.ip}`;
}

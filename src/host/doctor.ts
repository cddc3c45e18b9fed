import { messageOf, RuntimeError } from '../errors.js';
import { nodeImageRef } from '../image/node-image.js';
import { neighbourEntries, neighbourFix, nodesThatFit } from '../plan/neighbours.js';
import { nodeSubnetPool, pickNodeSubnet } from '../plan/subnets.js';
import { engineAddress } from '../runtime/docker-runtime.js';
import { currentEngine } from '../runtime/engine.js';
import type { Runtime } from '../runtime/runtime.js';
import { engineSide } from './engine-side.js';
import type { Host } from './host.js';
import { takenRanges } from './taken.js';

/** One finding of `lab doctor`: `ok`, a `warn`ing that may bite, or a `fail`ure that breaks labs. */
export interface Finding {
  id: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  /** What to do about it (warn and fail). */
  fix?: string;
}

/** Capabilities a node needs (numbers from linux/capability.h). */
const neededCaps = { NET_ADMIN: 12, NET_RAW: 13, SYS_ADMIN: 21 } as const;

/** The capability bounding set of this process, which containers started here cannot exceed. */
export function missingCaps(statusText: string): string[] {
  const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(statusText)?.[1];
  if (!hex) return [];
  const set = BigInt(`0x${hex}`);
  return Object.entries(neededCaps)
    .filter(([, bit]) => (set & (1n << BigInt(bit))) === 0n)
    .map(([name]) => name);
}

/** podlab's node image as the engine has it, for a helper container; an error when it is not built yet. */
export async function nodeImageIn(runtime: Runtime): Promise<string> {
  const ref = await nodeImageRef();
  if (!(await runtime.hasImage(ref)))
    throw new RuntimeError(
      `podlab's node image ${ref} is not in the engine yet`,
      'build it with lab image (lab up builds it too)',
    );
  return ref;
}

/** Checks that need no engine call beyond what `up` does anyway: cheap enough to run before every up. */
export async function fastFindings(host: Host): Promise<Finding[]> {
  const out: Finding[] = [];
  {
    const bridge = await host.read('/proc/sys/net/bridge/bridge-nf-call-iptables');
    out.push(
      bridge === undefined
        ? {
            id: 'bridge-netfilter',
            status: 'fail',
            detail:
              'the br_netfilter kernel module is not loaded: nodes need it to undo Service NAT between pods of one node',
            fix: 'modprobe br_netfilter (and add br_netfilter to /etc/modules-load.d/ to keep it)',
          }
        : { id: 'bridge-netfilter', status: 'ok', detail: 'br_netfilter is loaded' },
    );
    const missing = missingCaps((await host.read('/proc/self/status')) ?? '');
    out.push(
      missing.length
        ? {
            id: 'capabilities',
            status: 'fail',
            detail: `the capability bounding set lacks ${missing.join(', ')}: nodes need NET_ADMIN, NET_RAW and SYS_ADMIN`,
            fix: 'run podlab where containers may be granted those capabilities (not in a locked-down container)',
          }
        : { id: 'capabilities', status: 'ok', detail: 'NET_ADMIN, NET_RAW and SYS_ADMIN can be granted' },
    );
  }
  return out;
}

/** The kernel's hard limit of IPv4 neighbour entries (all namespaces), when the engine runs here. */
export async function neighbourLimit(host: Host): Promise<number | undefined> {
  const limit = Number(await host.read('/proc/sys/net/ipv4/neigh/default/gc_thresh3'));
  return Number.isInteger(limit) && limit > 0 ? limit : undefined;
}

/** Neighbour entries in use now, in all namespaces (the first column of /proc/net/stat/arp_cache). */
async function neighboursInUse(host: Host): Promise<number | undefined> {
  const hex = (await host.read('/proc/net/stat/arp_cache'))?.split('\n')[1]?.trim().split(/\s+/)[0];
  return hex ? Number.parseInt(hex, 16) : undefined;
}

/**
 * What `up` (from its plan) and `test` (from the running lab) print when a lab needs more neighbour
 * (ARP) entries than the kernel keeps (`limit`, see neighbourLimit); undefined when it fits or the
 * limit is not known.
 */
export function neighbourWarning(
  lab: { name: string; nodes: { name: string }[]; pods: { node: string }[] },
  limit: number | undefined,
): { message: string; fix: string } | undefined {
  const needed = neighbourEntries(lab.nodes.map((n) => lab.pods.filter((p) => p.node === n.name).length));
  if (limit === undefined || needed <= limit * 0.9) return undefined;
  return {
    message: `lab ${lab.name} needs about ${needed} neighbour (ARP) entries when its nodes and pods all talk; the kernel keeps at most ${limit} for all labs together (net.ipv4.neigh.default.gc_thresh3), so under load connections fail with "No route to host"`,
    fix: neighbourFix(needed),
  };
}

/** Fails `lab up` early, with every fix, when a fast check fails. */
export async function preflight(host: Host): Promise<void> {
  const failed = (await fastFindings(host)).filter((f) => f.status === 'fail');
  if (failed.length) {
    throw new RuntimeError(
      `this host cannot run a lab: ${failed.map((f) => f.detail).join('; ')}`,
      failed.map((f) => f.fix).join('; '),
    );
  }
}

/** Everything `lab doctor` checks, each with its fix. */
export async function doctor(runtime: Runtime, here: Host): Promise<Finding[]> {
  const findings: Finding[] = [];
  try {
    const v = await runtime.version();
    findings.push({
      id: 'engine',
      status: 'ok',
      detail: `Docker engine ${v.version} (API ${v.apiVersion}) at ${engineAddress()}, found from ${currentEngine().source}`,
    });
    const info = await runtime.info();
    const rootless = info.securityOptions.some((o) => o.includes('rootless'));
    const desktop = /docker desktop/i.test(info.operatingSystem);
    findings.push(
      rootless || desktop
        ? {
            id: 'engine-mode',
            status: 'warn',
            detail: `${rootless ? 'rootless engine' : 'Docker Desktop'}: node IPs are not reachable from this host, so NodePorts and nodeport-external cannot work from here`,
            fix: 'use a rootful engine on Linux (Debian: apt-get install docker.io)',
          }
        : {
            id: 'engine-mode',
            status: 'ok',
            detail: `rootful engine on ${info.operatingSystem}, kernel ${info.kernelVersion}`,
          },
    );
  } catch (error) {
    findings.push({
      id: 'engine',
      status: 'fail',
      detail: messageOf(error),
      fix: (error as { hint?: string }).hint ?? 'start a Docker engine',
    });
  }
  // The engine host's kernel and firewall: this machine's, or read through a helper container.
  let host: Host;
  try {
    host = await engineSide(here, runtime, () => nodeImageIn(runtime));
    await host.routes();
    findings.push({
      id: 'engine-host',
      status: 'ok',
      detail: host.where
        ? `read through a helper container on the engine host (this process does not see its network: Docker Desktop, a remote engine, or a namespace of its own)`
        : 'the engine runs on this machine, in this network namespace: read directly',
    });
  } catch (error) {
    if (findings.some((f) => f.id === 'engine' && f.status === 'fail')) return findings;
    findings.push({
      id: 'engine-host',
      status: 'warn',
      detail: `cannot read the engine host: ${messageOf(error)}`,
      fix:
        (error as { hint?: string }).hint ?? 'lab image builds the node image that the helper container runs',
    });
    return findings;
  }
  findings.push(...(await fastFindings(host)));
  {
    const forward = await host.read('/proc/sys/net/ipv4/ip_forward');
    findings.push(
      forward === '1'
        ? { id: 'ip-forwarding', status: 'ok', detail: 'the host forwards IPv4' }
        : {
            id: 'ip-forwarding',
            status: 'warn',
            detail:
              'the host does not forward IPv4: nodes cannot reach anything outside the lab (dns.upstream, package mirrors)',
            fix: 'sysctl -w net.ipv4.ip_forward=1 (Docker sets it unless started with --ip-forward=false)',
          },
    );
    const version = await host.run('iptables', ['--version']);
    findings.push(
      version === undefined
        ? {
            id: 'iptables',
            status: 'warn',
            detail: 'no iptables on the host: Docker needs it for its networks',
            fix: 'apt-get install iptables',
          }
        : {
            id: 'iptables',
            status: 'ok',
            detail: `${version} on the host; nodes use their own (nf_tables) in their own namespaces`,
          },
    );
    const forwardChain = await host.run('iptables', ['-S', 'FORWARD']);
    if (forwardChain !== undefined) {
      const drop = /^-P FORWARD DROP/m.test(forwardChain);
      const docker = /DOCKER/.test(forwardChain);
      findings.push(
        drop && !docker
          ? {
              id: 'forward-policy',
              status: 'warn',
              detail:
                "the host's FORWARD policy is DROP and Docker's chains are missing: containers cannot reach past the host",
              fix: "start dockerd with its iptables integration (the default), or accept the labs' bridges in FORWARD",
            }
          : {
              id: 'forward-policy',
              status: 'ok',
              detail: `FORWARD policy ${drop ? 'DROP, with Docker’s chains' : 'ACCEPT'}`,
            },
      );
    }
  }
  const limit = await neighbourLimit(host);
  if (limit !== undefined) {
    const inUse = await neighboursInUse(host);
    const room = `room for about ${nodesThatFit(limit)} nodes of 3 pods each, all talking`;
    findings.push(
      inUse !== undefined && inUse > limit * 0.9
        ? {
            id: 'neighbour-table',
            status: 'warn',
            detail: `${inUse} of the kernel's ${limit} neighbour (ARP) entries are in use: new connections may fail with "No route to host"`,
            fix: neighbourFix(limit),
          }
        : {
            id: 'neighbour-table',
            status: 'ok',
            detail: `the kernel keeps ${limit} neighbour (ARP) entries for all labs (${inUse ?? '?'} in use): ${room}`,
          },
    );
  }
  try {
    const free = pickNodeSubnet(await takenRanges(runtime, host));
    findings.push(
      free
        ? { id: 'free-subnets', status: 'ok', detail: `${free} is free for the next lab's nodes` }
        : {
            id: 'free-subnets',
            status: 'fail',
            detail: `no /${nodeSubnetPool.bits} of ${nodeSubnetPool.base} is free`,
            fix: 'remove unused Docker networks (docker network prune), or set cluster.nodeSubnet',
          },
    );
  } catch {
    // no engine: reported above
  }
  return findings;
}

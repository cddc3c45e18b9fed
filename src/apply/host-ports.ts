import { HostPortTakenError } from '../errors.js';
import type { Host } from '../host/host.js';
import { Label } from '../labels.js';
import type { PublishedPort } from '../plan/publish.js';
import type { LabPlan } from '../plan/types.js';
import type { ContainerInfo, Runtime } from '../runtime/runtime.js';

/** A socket that listens on the engine host, from `ss -Hltnu`. */
export interface Listening {
  protocol: 'TCP' | 'UDP';
  address: string;
  port: number;
}

/** Parses `ss -Hltnu` (Netid State Recv-Q Send-Q Local:Port Peer:Port …). */
export function parseListening(text: string): Listening[] {
  return text.split('\n').flatMap((line) => {
    const [netid, , , , local] = line.trim().split(/\s+/);
    const at = local?.lastIndexOf(':') ?? -1;
    if (!local || at < 0 || (netid !== 'tcp' && netid !== 'udp')) return [];
    const port = Number(local.slice(at + 1));
    if (!Number.isInteger(port)) return [];
    return [
      { protocol: netid === 'tcp' ? 'TCP' : 'UDP', address: local.slice(0, at).replace(/%.*$/, ''), port },
    ];
  });
}

const wildcard = (address: string) => ['0.0.0.0', '*', '[::]', '::', ''].includes(address);

/** Whether a socket on `address` would take `ip`'s port. */
function overlaps(address: string, ip: string): boolean {
  return wildcard(address) || wildcard(ip) || address === ip;
}

/**
 * The host ports a plan publishes that something else holds (pure): another container's published
 * port (named), or a process listening on the engine host. Ports that the lab's own containers publish
 * now are no clash (a change in place replaces its publisher).
 */
export function hostPortClashes(
  published: PublishedPort[],
  listening: Listening[],
  containers: ContainerInfo[],
  lab: string,
): string[] {
  const own = containers.filter((c) => c.labels[Label.lab] === lab).flatMap((c) => c.published ?? []);
  const mine = (p: { hostPort: number; protocol: string }) =>
    own.some((o) => o.hostPort === p.hostPort && o.protocol === p.protocol);
  const out: string[] = [];
  for (const p of published) {
    const where = `${p.hostIP}:${p.hostPort}/${p.protocol}`;
    if (mine(p)) continue;
    const holder = containers.find((c) =>
      (c.published ?? []).some(
        (o) => o.hostPort === p.hostPort && o.protocol === p.protocol && overlaps(o.hostIP, p.hostIP),
      ),
    );
    if (holder) {
      const lab = holder.labels[Label.lab];
      out.push(
        `${where} (for ${p.service}) is published by container ${holder.name}${lab ? ` of lab ${lab}` : ''}`,
      );
      continue;
    }
    if (
      listening.some(
        (l) => l.port === p.hostPort && l.protocol === p.protocol && overlaps(l.address, p.hostIP),
      )
    )
      out.push(`${where} (for ${p.service}) is taken by a process on the engine host`);
  }
  return out;
}

/** Refuses, before anything is created, host ports that the engine host cannot give the lab. */
export async function refuseTakenHostPorts(runtime: Runtime, host: Host, plan: LabPlan): Promise<void> {
  if (plan.published.length === 0) return;
  const [containers, ss] = await Promise.all([runtime.listContainers({}), host.run('ss', ['-Hltnu'])]);
  const clashes = hostPortClashes(plan.published, parseListening(ss ?? ''), containers, plan.name);
  if (clashes.length)
    throw new HostPortTakenError(
      `lab ${plan.name} cannot publish ${clashes.length === 1 ? 'this host port' : 'these host ports'}: ${clashes.join('; ')}`,
      'pick another hostPort in the topology (or free the port: lab down the lab that holds it, or stop the process)',
    );
}

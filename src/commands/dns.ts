import { agent, jsonLines } from '../agent/agent.js';
import { ExitCode, LabStateError, RuntimeError, UsageError } from '../errors.js';
import { Label } from '../labels.js';
import { parseResolvConf, searchCandidates } from '../net/resolv.js';
import { resolveTarget } from '../state/targets.js';
import type { CommandContext } from './context.js';
import { labContainers } from './exec.js';
import { table } from './status.js';

/** One name of the search list: whether the resolver tried it, and what the server said. */
export interface Attempt {
  name: string;
  /** False for the names after the first that resolved: a resolver stops there. */
  tried: boolean;
  /** The server's status (NOERROR, NXDOMAIN, …); `not tried` when it was not. */
  status: string;
  answers: string[];
}

/** What podlab-agent probe-dig prints after each name's dig output. */
const separator = '@@podlab-dns-end@@';

/** Splits the output of the dig loop into one attempt per name. */
export function parseDigBlocks(names: string[], output: string): Attempt[] {
  const blocks = output.split(separator);
  return names.map((name, i) => {
    const block = blocks[i] ?? '';
    const status =
      /status: ([A-Z]+)/.exec(block)?.[1] ??
      (/timed out|no servers could be reached/.test(block) ? 'TIMEOUT' : 'ERROR');
    const answers = block
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith(';'))
      .map((l) => l.trim().split(/\s+/))
      .map((f) => `${f[3]} ${f.slice(4).join(' ')}`);
    return { name, tried: true, status, answers };
  });
}

/**
 * The attempts as the pod's resolver makes them: it stops at the first name that exists (NOERROR
 * with answers), so the names after it are marked not tried, with no answer. Returns them and the
 * index of the name that resolved (-1 when none did). The table and the JSON both show this.
 */
export function asResolverTries(attempts: Attempt[]): { attempts: Attempt[]; hit: number } {
  const hit = attempts.findIndex((a) => a.status === 'NOERROR' && a.answers.length > 0);
  return {
    hit,
    attempts: attempts.map((a, i) =>
      hit >= 0 && i > hit ? { name: a.name, tried: false, status: 'not tried', answers: [] } : a,
    ),
  };
}

/**
 * `lab dns NAME --from NS/POD`: resolves NAME the way the pod's resolver does (its nameserver, search
 * list and ndots), showing every name tried and the answer of each. Exit 0 when it resolves, 1 when not.
 */
export default async function dns(
  ctx: CommandContext,
  name: string,
  options: { from: string; type?: string; file?: string; lab?: string; json?: boolean },
): Promise<number> {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new UsageError(`"${name}" is not a DNS name`);
  const type = (options.type ?? 'A').toUpperCase();
  if (!/^[A-Z]{1,10}$/.test(type))
    throw new UsageError(`"${options.type}" is not a DNS record type`, 'e.g. A, SRV, TXT, PTR, CNAME');
  const { lab, runtime, containers } = await labContainers(ctx, options);
  if (options.from.split('/').length < 2) throw new UsageError('--from takes a pod: NS/POD');
  const pod = resolveTarget(containers, options.from, lab);
  const key = pod.labels[Label.pod] ?? options.from;
  const node = resolveTarget(containers, pod.labels[Label.node] ?? '', lab);
  const where = { name: node.labels[Label.node] ?? node.name, container: node.name };

  // From the pod's node, in the pod's network namespace, with its resolver's settings: the pod's own
  // image needs no tools (no dig, no shell).
  const confs = jsonLines<{ pod: string; resolv: string }>(await agent(runtime, where, ['resolv']));
  const text = confs.find((c) => c.pod === key)?.resolv;
  if (text === undefined) throw new RuntimeError(`cannot read the resolver of ${key} on node ${where.name}`);
  const conf = parseResolvConf(text);
  const server = conf.nameservers[0];
  if (!server) throw new LabStateError(`${key} has no nameserver in /etc/resolv.conf`);
  const { names, why } = searchCandidates(name, conf);
  const result = { stdout: await agent(runtime, where, ['probe-dig', key, type, server], names.join('\n')) };
  const { attempts, hit } = asResolverTries(parseDigBlocks(names, result.stdout));
  if (options.json) {
    ctx.io.out(
      JSON.stringify(
        {
          name,
          type,
          from: options.from,
          nameserver: server,
          search: conf.search,
          ndots: conf.ndots,
          attempts,
          resolved: hit >= 0 ? attempts[hit] : null,
        },
        null,
        2,
      ),
    );
  } else {
    ctx.io.out(
      `${options.from} asks ${server} (search ${conf.search.join(' ') || '-'}, ndots:${conf.ndots})`,
    );
    ctx.io.out(why);
    ctx.io.out(
      table(
        ['#', 'NAME TRIED', 'STATUS', 'ANSWER'],
        attempts.map((a, i) => [
          String(i + 1),
          a.name,
          a.tried ? a.status : `(${a.status})`,
          a.tried ? a.answers.join('; ') || '-' : '',
        ]),
      ).join('\n'),
    );
    ctx.io.out(
      hit >= 0
        ? `→ ${name} resolves as ${attempts[hit]!.name}`
        : `→ ${name} does not resolve from ${options.from}`,
    );
  }
  return hit >= 0 ? ExitCode.ok : ExitCode.failed;
}

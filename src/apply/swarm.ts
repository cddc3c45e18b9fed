import { spansEngines, usedEngines } from '../config/engines.js';
import type { Topology } from '../config/types.js';
import { LabStateError, UsageError } from '../errors.js';
import type { EngineHandle, EngineInfo, Runtime } from '../runtime/runtime.js';

/** What an engine of a lab said when asked (or why it did not answer). */
export interface EngineState {
  name: string;
  address: string;
  info?: EngineInfo;
  error?: string;
}

/**
 * Whether engines can hold one lab (pure): every one answers and all belong to one Docker Swarm
 * (the same managers) with a manager among them. Otherwise each engine's state and the commands
 * that fix it.
 */
export function swarmProblem(states: EngineState[]): { message: string; hint: string } | undefined {
  const describe = (s: EngineState) => {
    if (s.error) return `does not answer: ${s.error}`;
    const swarm = s.info?.swarm;
    if (swarm?.state !== 'active') return `is in no swarm (${swarm?.state ?? 'unknown'})`;
    return `is in a swarm as ${swarm.manager ? 'a manager' : 'a worker'} (managers ${swarm.managers.join(', ') || 'unknown'})`;
  };
  const swarmOf = (s: EngineState) =>
    s.info?.swarm?.state === 'active' ? [...s.info.swarm.managers].sort().join(',') : '';
  const active = states.filter((s) => swarmOf(s) !== '');
  const swarms = new Set(active.map(swarmOf));
  const manager = states.find((s) => s.info?.swarm?.manager);
  if (!states.some((s) => s.error) && active.length === states.length && swarms.size === 1 && manager)
    return undefined;
  const d = (s: EngineState) => `docker -H ${s.address}`;
  const lead = manager ?? states.find((s) => !s.error) ?? states[0]!;
  const addr = lead.info?.swarm?.address || '<its address>';
  const others = states.filter((s) => s !== lead);
  return {
    message: `the lab's nodes sit on ${states.length} engines, which must all answer and belong to one Docker Swarm with a manager among them:\n${states.map((s) => `  engine ${s.name} (${s.address}) ${describe(s)}`).join('\n')}`,
    hint: [
      ...(manager ? [] : [`${d(lead)} swarm init --advertise-addr ${addr}`]),
      ...others
        .filter((s) => swarmOf(s) !== swarmOf(lead) || swarmOf(s) === '')
        .map(
          (s) =>
            `${swarmOf(s) ? `${d(s)} swarm leave && ` : ''}${d(s)} swarm join --token $(${d(lead)} swarm join-token -q worker) ${addr}:2377`,
        ),
      'between machines, the swarm needs 2377/tcp, 7946/tcp and udp, and 4789/udp open',
    ].join('\n  '),
  };
}

/**
 * Connects the engines a topology lists, and refuses a lab that spans engines that do not form one
 * swarm, before anything is created. A topology without engines is the CLI's own engine, as always.
 */
export async function prepareEngines(runtime: Runtime, topology: Topology): Promise<EngineHandle[]> {
  const engines = usedEngines(topology);
  if (engines.length === 0) return [];
  if (!runtime.useEngines)
    throw new UsageError(
      `lab ${topology.name} lists engines, and this runtime reaches one engine`,
      'use the Lab API without a runtime of your own (it then reaches every engine the topology lists)',
    );
  const handles = runtime.useEngines(engines, topology.name);
  if (!spansEngines(topology)) return handles;
  const states = await Promise.all(
    handles.map(async (h): Promise<EngineState> => {
      try {
        return { name: h.name, address: h.address, info: await h.runtime.info() };
      } catch (error) {
        return { name: h.name, address: h.address, error: (error as Error).message.split('\n')[0] };
      }
    }),
  );
  const problem = swarmProblem(states);
  if (problem) throw new LabStateError(problem.message, problem.hint);
  return handles;
}

import { agent, agentSteps, type CniLine, jsonLines } from '../agent/agent.js';
import type { Clock } from '../clock.js';
import { InterruptedError, messageOf, RuntimeError } from '../errors.js';
import { imageOptionsFromEnv } from '../image/node-image.js';
import type { Io } from '../io.js';
import { Label, labFilter } from '../labels.js';
import { allocationHash, allocationOf } from '../plan/allocation.js';
import type { LabDiff } from '../plan/diff.js';
import { reloadServiceRules, serviceHooks } from '../plan/kube-proxy.js';
import { reloadPolicyRules } from '../plan/policy.js';
import type { ContainerSpec, LabPlan, NodePlan, PodPlan, PublisherPlan } from '../plan/types.js';
import type { ContainerInfo, Runtime } from '../runtime/runtime.js';
import { generationOf } from '../state/observe.js';
import { count } from '../text.js';
import {
  type Action,
  configureNode,
  configurePublisher,
  createPods,
  ensureUserImages,
  markReady,
  nodeHooks,
  nodeRef,
  type PullMode,
  refuseStopped,
  settleStarts,
  userImages,
} from './actions.js';
import { engineConcurrency, mapLimit } from './limit.js';
import { removeInStages } from './remove.js';
import { applyPlan, type PhaseTimings } from './run.js';
import { refuseMissingImages } from './up.js';

/** What a change in place does to the engine, worked out from the diff and what the engine holds. */
export interface ChangeSteps {
  /** Containers to remove (in stages: removeInStages). */
  remove: ContainerInfo[];
  /** CNI DEL before the removal, per node that stays: its node reference and `namespace/pod id` lines. */
  cniDel: { node: { name: string; container: string }; lines: string[] }[];
  /** Nodes to create and configure whole. */
  nodes: NodePlan[];
  /** Route changes of nodes that stay (ip -batch lines by node name). */
  routes: Record<string, string[]>;
  /** Overlay FDB changes of nodes that stay (bridge -batch lines by node name). */
  fdb: Record<string, string[]>;
  /** kube-proxy's rules for the nodes that stay, when they change. */
  rules?: string;
  /** NetworkPolicy rules of the nodes that stay whose rules change (by node name). */
  policyRules: Record<string, string>;
  /** Pods whose sandboxes are created and wired in. */
  pods: PodPlan[];
  /** Containers created: those of the new pods, and new or changed ones in pods that stay. */
  containers: ContainerSpec[];
  /** The publisher of host ports to create and configure. */
  publisher?: PublisherPlan;
}

/**
 * The steps that take the lab planned as `from` to `to` (pure). Whatever is to be created is first
 * removed when the engine still has it (so a rollback after a half-done change converges too), and
 * every removed sandbox on a node that stays gives its address back with CNI DEL first.
 */
export function changeSteps(
  diff: LabDiff,
  from: LabPlan,
  to: LabPlan,
  observed: ContainerInfo[],
): ChangeSteps {
  const addedNodes = new Set(diff.nodes.added);
  const nodes = to.nodes.filter((n) => addedNodes.has(n.name));
  const newPods = new Set([...diff.pods.added, ...diff.pods.replaced]);
  const pods = to.pods.filter((p) => newPods.has(p.key));
  const containerName = (c: ContainerSpec) => c.labels[Label.container] ?? c.name;
  const changedIn = new Map(diff.containers.map((c) => [c.pod, c]));
  const containers = [
    ...pods.flatMap((p) => p.containers),
    ...to.pods.flatMap((p) => {
      const change = changedIn.get(p.key);
      if (!change) return [];
      const wanted = new Set([...change.added, ...change.replaced]);
      return p.containers.filter((c) => wanted.has(containerName(c)));
    }),
  ];
  const gonePods = new Set([...diff.pods.removed, ...diff.pods.replaced]);
  const goneNodes = new Set(diff.nodes.removed);
  const gone = new Set<string>([
    ...from.nodes.filter((n) => goneNodes.has(n.name) || addedNodes.has(n.name)).map((n) => n.container.name),
    ...from.pods
      .filter((p) => gonePods.has(p.key))
      .flatMap((p) => [p.sandbox.name, ...p.containers.map((c) => c.name)]),
    ...from.pods.flatMap((p) => {
      const change = changedIn.get(p.key);
      if (!change) return [];
      const out = new Set([...change.removed, ...change.replaced]);
      return p.containers.filter((c) => out.has(containerName(c))).map((c) => c.name);
    }),
    ...nodes.map((n) => n.container.name),
    ...pods.map((p) => p.sandbox.name),
    ...containers.map((c) => c.name),
    ...(diff.publisher && from.publisher ? [from.publisher.container.name] : []),
    ...(diff.publisher && to.publisher ? [to.publisher.container.name] : []),
  ]);
  const remove = observed.filter((c) => c.labels[Label.role] !== 'record' && gone.has(c.name));
  const removedNodes = new Set(remove.filter((c) => c.labels[Label.role] === 'node').map((c) => c.name));
  const cniDel = new Map<string, { node: { name: string; container: string }; lines: string[] }>();
  for (const c of remove) {
    if (c.labels[Label.role] !== 'sandbox' || c.state !== 'running') continue;
    const name = c.labels[Label.node] ?? '';
    const node = observed.find((n) => n.labels[Label.role] === 'node' && n.labels[Label.node] === name);
    if (node?.state !== 'running' || removedNodes.has(node.name)) continue;
    const entry = cniDel.get(name) ?? { node: { name, container: node.name }, lines: [] };
    entry.lines.push(`${c.labels[Label.pod]} ${c.id}`);
    cniDel.set(name, entry);
  }
  const routes = Object.fromEntries(Object.entries(diff.routes).filter(([node]) => !addedNodes.has(node)));
  const fdb = Object.fromEntries(Object.entries(diff.fdb).filter(([node]) => !addedNodes.has(node)));
  return {
    remove,
    cniDel: [...cniDel.values()],
    nodes,
    routes,
    fdb,
    ...(diff.rules ? { rules: reloadServiceRules(from.serviceRules, to.serviceRules) } : {}),
    policyRules: Object.fromEntries(
      diff.policyRules
        .filter((n) => !addedNodes.has(n))
        .map((n) => [
          n,
          reloadPolicyRules(
            from.nodes.find((x) => x.name === n)!.policyRules,
            to.nodes.find((x) => x.name === n)!.policyRules,
          ),
        ]),
    ),
    pods,
    containers,
    ...(diff.publisher && to.publisher ? { publisher: to.publisher } : {}),
  };
}

/** The record container of a lab changed in place: never started, its labels hold the topology and allocation. */
export function recordSpec(plan: LabPlan, generation: number): ContainerSpec {
  const allocation = JSON.stringify(allocationOf(plan));
  return {
    name: `podlab-${plan.name}_record-${generation}`,
    image: plan.image,
    labels: {
      ...plan.network.labels,
      [Label.role]: 'record',
      [Label.allocation]: allocation,
      [Label.allocationHash]: allocationHash(allocation),
      [Label.generation]: String(generation),
    },
    env: {},
    cmd: ['true'],
    network: { mode: 'none' },
    capAdd: [],
    sysctls: {},
  };
}

/** The actions of one change in place, only those with work to do. `strict`: a failed CNI DEL fails it. */
export function changeActions(
  steps: ChangeSteps,
  to: LabPlan,
  options: { pull?: PullMode; log: (line: string) => void; record?: number; strict: boolean },
): Action[] {
  const actions: Action[] = [];
  const images = userImages(to, options.pull, steps.containers);
  if (images.some((i) => i.policy !== 'Never'))
    actions.push({
      phase: 'image',
      title: 'Ensuring images',
      run: ({ runtime }) => ensureUserImages(runtime, images, options.log),
    });
  if (steps.remove.length > 0) {
    const pods = steps.remove.filter((c) => c.labels[Label.role] === 'sandbox').length;
    const nodes = steps.remove.filter((c) => c.labels[Label.role] === 'node').length;
    const what = [
      pods ? count(pods, 'pod') : '',
      nodes ? count(nodes, 'node') : '',
      pods + nodes === 0 ? count(steps.remove.length, 'container') : '',
    ].filter(Boolean);
    actions.push({
      phase: 'remove',
      title: `Removing ${what.join(' and ')}${steps.cniDel.length ? ' (CNI DEL first)' : ''}`,
      async run({ runtime }) {
        await Promise.all(
          steps.cniDel.map(async ({ node, lines }) => {
            const out = jsonLines<CniLine>(await agent(runtime, node, ['cni', 'DEL'], lines.join('\n')));
            const failed = out.filter((l) => l.error);
            if (failed.length && options.strict)
              throw new RuntimeError(
                `CNI DEL failed on node ${node.name}:\n  ${failed.map((l) => `${l.pod}: ${l.error?.trim()}`).join('\n  ')}`,
              );
          }),
        );
        await removeInStages(steps.remove, (c) => runtime.removeContainer(c.id));
      },
    });
  }
  const publisher = steps.publisher;
  if (steps.nodes.length > 0 || publisher)
    actions.push({
      phase: 'nodes',
      title: `Starting ${[steps.nodes.length ? count(steps.nodes.length, 'node') : '', publisher ? 'the publisher of host ports' : ''].filter(Boolean).join(' and ')}`,
      async run({ runtime }) {
        const specs = [...steps.nodes.map((n) => n.container), ...(publisher ? [publisher.container] : [])];
        await mapLimit(specs, engineConcurrency, (c) => runtime.runContainer(c));
      },
    });
  const routed = [...new Set([...Object.keys(steps.routes), ...Object.keys(steps.fdb)])];
  const policed = Object.keys(steps.policyRules);
  // Only rules change (a NetworkPolicy applied or deleted, say): each node loads them in the exec
  // that marks it ready, one exec per node in all.
  const rulesOnly =
    steps.remove.length + steps.nodes.length + routed.length + steps.pods.length + steps.containers.length ===
      0 && !publisher;
  const ruleSteps = (name: string) => [
    ...(steps.policyRules[name] !== undefined ? [{ verb: 'iptables', input: steps.policyRules[name]! }] : []),
    ...(steps.rules !== undefined ? [{ verb: 'iptables', input: steps.rules }] : []),
  ];
  const hooksFor = (name: string) => (steps.policyRules[name] !== undefined ? nodeHooks : serviceHooks);
  if (
    !rulesOnly &&
    (steps.nodes.length > 0 ||
      routed.length > 0 ||
      steps.rules !== undefined ||
      policed.length > 0 ||
      publisher)
  ) {
    const parts = [
      steps.nodes.length ? `${count(steps.nodes.length, 'new node')} in full` : '',
      routed.length ? `routes on ${routed.join(', ')}` : '',
      steps.rules !== undefined ? 'Service rules on every node' : '',
      policed.length ? `NetworkPolicy rules on ${policed.join(', ')}` : '',
      publisher ? 'the host ports' : '',
    ].filter(Boolean);
    actions.push({
      phase: 'configure',
      title: `Configuring ${parts.join(', ')}`,
      async run({ runtime }) {
        const added = new Set(steps.nodes.map((n) => n.name));
        await Promise.all([
          ...(publisher ? [configurePublisher(runtime, publisher)] : []),
          ...to.nodes.map(async (n) => {
            if (added.has(n.name)) {
              await configureNode(runtime, to, n);
              return;
            }
            // Routes, then rules: one exec per node. Policy rules come first: they declare the
            // chain that the policy hook jumps to (a lab made before NetworkPolicy lacks it).
            const lines = steps.routes[n.name];
            const work = [
              ...(lines ? [{ verb: 'ip-batch', input: lines.join('\n') }] : []),
              ...(steps.fdb[n.name] ? [{ verb: 'bridge-batch', input: steps.fdb[n.name]!.join('\n') }] : []),
              ...ruleSteps(n.name),
            ];
            if (work.length)
              await agentSteps(runtime, nodeRef(n), work, { PODLAB_HOOKS: hooksFor(n.name).join('\n') });
          }),
        ]);
      },
    });
  }
  if (steps.pods.length + steps.containers.length > 0) {
    const inKept = steps.containers.length - steps.pods.reduce((n, p) => n + p.containers.length, 0);
    const parts = [
      steps.pods.length ? count(steps.pods.length, 'pod') : '',
      inKept ? `${count(inKept, 'container')} in pods that stay` : '',
    ].filter(Boolean);
    actions.push({
      phase: 'pods',
      title: `Creating ${parts.join(' and ')}${steps.pods.length ? ', wired in with CNI ADD' : ''}`,
      run: (ctx) =>
        createPods(
          ctx.runtime,
          to,
          steps.pods,
          steps.containers,
          new Map(),
          ctx.count,
          ctx.clock && ctx.starts ? { clock: ctx.clock, starts: ctx.starts } : undefined,
        ),
    });
  }
  const loads = rulesOnly ? to.nodes.filter((n) => ruleSteps(n.name).length) : [];
  actions.push({
    phase: 'ready',
    title: loads.length
      ? `Loading ${[policed.length ? `NetworkPolicy rules on ${policed.join(', ')}` : '', steps.rules !== undefined ? 'Service rules on every node' : ''].filter(Boolean).join(' and ')}, and marking every node ready`
      : 'Waiting until every pod has its IP and DNS answers',
    async run({ runtime, clock, starts }) {
      await settleStarts(clock, starts);
      await refuseStopped(runtime, to, new Set(steps.containers.map((c) => c.name)));
      // Hooks per node: a node without new policy rules may lack the policy chain (an older lab).
      await markReady(runtime, to, (n) => ({
        steps: loads.includes(n) ? ruleSteps(n.name) : [],
        env: { PODLAB_HOOKS: hooksFor(n.name).join('\n') },
      }));
    },
  });
  const generation = options.record;
  if (generation !== undefined)
    actions.push({
      phase: 'record',
      title: 'Recording the new topology',
      async run({ runtime }) {
        await runtime.createContainer(recordSpec(to, generation));
        const records = await runtime.listContainers({ ...labFilter(to.name), [Label.role]: 'record' });
        for (const r of records) if (generationOf(r) !== generation) await runtime.removeContainer(r.id);
      },
    });
  return actions;
}

/** What a change in place needs, all injected. */
export interface ChangeDeps {
  runtime: Runtime;
  clock: Clock;
  io: Io;
}

/** How long a rollback waits for steps that a signal interrupted to settle. */
const settleMs = 30_000;

/**
 * Applies `diff` to the running lab planned as `from` (generation `generation`), making it `to`. On
 * failure or interrupt, applies the way back (from what the engine then holds to `from`), so the lab
 * is as it was; the original error is thrown either way.
 */
export async function applyChange(
  deps: ChangeDeps,
  plans: { from: LabPlan; to: LabPlan; diff: LabDiff; back: LabDiff; generation: number },
  run: { signal?: AbortSignal; pull?: PullMode; instrument?: { actions(a: Action[]): Action[] } } = {},
): Promise<PhaseTimings> {
  const { runtime, io, clock } = deps;
  const { from, to, diff, back, generation } = plans;
  const log = imageOptionsFromEnv((line) => io.err(`  ${line}`)).log;
  const observed = await runtime.listContainers(labFilter(to.name));
  const steps = changeSteps(diff, from, to, observed);
  await refuseMissingImages(runtime, to, run.pull, steps.containers);
  const forward = changeActions(steps, to, {
    ...(run.pull ? { pull: run.pull } : {}),
    log,
    record: generation + 1,
    strict: true,
  });
  const inflight: Promise<unknown>[] = [];
  try {
    return await applyPlan(runtime, to, io, {
      ...(run.signal ? { signal: run.signal } : {}),
      inflight,
      actions: run.instrument?.actions(forward) ?? forward,
      clock,
    });
  } catch (error) {
    const interrupted = error instanceof InterruptedError;
    io.err(`change ${interrupted ? 'interrupted' : 'failed'}; returning lab ${to.name} to how it was`);
    const giveUp = new AbortController();
    await Promise.race([Promise.allSettled(inflight), clock.sleep(settleMs, giveUp.signal)]);
    giveUp.abort();
    try {
      const now = await runtime.listContainers(labFilter(to.name));
      const undo = changeActions(changeSteps(back, to, from, now), from, { log, strict: false });
      await applyPlan(runtime, from, io, { actions: undo, clock });
      for (const r of now)
        if (r.labels[Label.role] === 'record' && generationOf(r) > generation)
          await runtime.removeContainer(r.id);
      io.err(`lab ${to.name} is back as it was before this change`);
    } catch (undoError) {
      io.err(
        `returning it failed too (${messageOf(undoError)}); the lab may be half-changed: run lab down ${to.name}, then lab up`,
      );
    }
    throw error;
  }
}

import { agent, agentSteps, type CniLine, jsonLines } from '../agent/agent.js';
import type { Clock } from '../clock.js';
import { PodFailedError, RuntimeError } from '../errors.js';
import { ensureNodeImage, type ImageOptions } from '../image/node-image.js';
import { Label, labFilter } from '../labels.js';
import { serviceHooks } from '../plan/kube-proxy.js';
import { policyHooks } from '../plan/policy.js';
import { publishHooks } from '../plan/publish.js';
import type { ContainerSpec, LabPlan, NodePlan, PodPlan, PublisherPlan } from '../plan/types.js';
import type { Runtime } from '../runtime/runtime.js';
import { count } from '../text.js';
import { engineConcurrency, mapLimit } from './limit.js';

/** Phases of `up`, in order; the benchmark reports time and engine calls per phase by these ids. */
export type Phase = 'network' | 'image' | 'remove' | 'nodes' | 'configure' | 'pods' | 'ready' | 'record';

/** `lab up --pull`: overrides every container's imagePullPolicy (docker's words for them). */
export type PullMode = 'always' | 'missing' | 'never';

/** What the actions share while a lab comes up. */
export interface ApplyContext {
  runtime: Runtime;
  plan: LabPlan;
  image: ImageOptions;
  pull?: PullMode;
  /** Sandbox container IDs by `namespace/name`. */
  sandboxIds: Map<string, string>;
  /** Reports how far a long step is (a terminal shows it in the step's title). */
  count?: (done: number, total: number) => void;
  /** The clock of the run (the ready step's settling time is measured on it). */
  clock?: Clock;
  /** Filled by the pods step: when the last pod container started, and the quickest start (clock ms). */
  starts?: Starts;
}

/** The pods step's container starts: when the last one began running, and the shortest one took. */
export interface Starts {
  last: number;
  /** The quickest start of the run (ms): how fast the engine, as busy as it is, handles a container. */
  quickest: number;
}

/**
 * Waits, before containers are judged by their state, until as long as the quickest container start
 * of the run has passed since the last one: a container that exits at once has exited by then, and
 * the engine, which needed that long to handle a start, has had as long to handle the exit. The wait
 * grows with what the engine shows it needs; after the CNI step it is usually over already.
 */
export async function settleStarts(clock: Clock | undefined, starts: Starts | undefined): Promise<void> {
  if (!clock || !starts || !Number.isFinite(starts.quickest)) return;
  const left = starts.quickest - (clock.now() - starts.last);
  if (left > 0) await clock.sleep(left);
}

/** One named step of `up`; each becomes one listr2 task. */
export interface Action {
  phase: Phase;
  title: string;
  run(ctx: ApplyContext): Promise<void>;
}

export const nodeRef = (node: NodePlan) => ({ name: node.name, container: node.container.name });

/**
 * How long the ready step waits for the DNS pod to answer: 15 s, and a second more for every 20 pods
 * (its records, and the machine's work of starting them all), so that a large lab never outgrows it.
 */
export function dnsWaitSeconds(plan: LabPlan): number {
  return 15 + Math.ceil(plan.pods.length / 20);
}

/** The ordered actions that bring a planned lab up (kind's actionsToRun). */
export function upActions(): Action[] {
  return [
    {
      phase: 'network',
      title: 'Creating the node network',
      async run({ runtime, plan }) {
        // A subnet that another lab took meanwhile fails with SubnetTakenError (the runtime translates it).
        await runtime.createNetwork(plan.network);
      },
    },
    {
      phase: 'image',
      title: 'Ensuring images',
      async run(ctx) {
        const { runtime, plan, image } = ctx;
        const built = await ensureNodeImage(runtime, image);
        if (built !== plan.image)
          throw new RuntimeError(`node image ${built} is not the planned ${plan.image}`);
        await ensureUserImages(runtime, userImages(plan, ctx.pull), image.log);
      },
    },
    {
      phase: 'nodes',
      title: 'Starting nodes',
      async run({ runtime, plan, count }) {
        const containers = [
          ...plan.nodes.map((n) => n.container),
          ...(plan.publisher ? [plan.publisher.container] : []),
        ];
        let done = 0;
        await mapLimit(containers, engineConcurrency, async (c) => {
          await runtime.runContainer(c);
          count?.(++done, containers.length);
        });
      },
    },
    {
      phase: 'configure',
      title: 'Configuring nodes: bridge CNI config, host routes, Service and NetworkPolicy rules',
      async run({ runtime, plan }) {
        // One exec per node for all three: none of them depends on the pods.
        await Promise.all([
          ...plan.nodes.map((n) => configureNode(runtime, plan, n)),
          ...(plan.publisher ? [configurePublisher(runtime, plan.publisher)] : []),
        ]);
      },
    },
    {
      phase: 'pods',
      title: 'Creating pods and wiring them in with CNI ADD',
      async run(ctx) {
        const { runtime, plan } = ctx;
        await createPods(
          runtime,
          plan,
          plan.pods,
          plan.pods.flatMap((p) => p.containers),
          ctx.sandboxIds,
          ctx.count,
          ctx.clock && ctx.starts ? { clock: ctx.clock, starts: ctx.starts } : undefined,
        );
      },
    },
    {
      phase: 'ready',
      title: 'Waiting until every pod has its IP and DNS answers',
      async run({ runtime, plan, clock, starts }) {
        await settleStarts(clock, starts);
        await refuseStopped(runtime, plan);
        await markReady(runtime, plan);
      },
    },
  ];
}

/**
 * The images of the lab's own pods (not podlab's) and the pull policy each gets: its container's,
 * or `--pull`'s for all. When one image has several policies, the strictest fetch wins (Always over
 * IfNotPresent over Never).
 */
export function userImages(
  plan: LabPlan,
  pull?: PullMode,
  containers: ContainerSpec[] = plan.pods.flatMap((p) => p.containers),
): { ref: string; policy: 'Never' | 'IfNotPresent' | 'Always' }[] {
  const override = { always: 'Always', missing: 'IfNotPresent', never: 'Never' } as const;
  const rank = { Never: 0, IfNotPresent: 1, Always: 2 } as const;
  const out = new Map<string, 'Never' | 'IfNotPresent' | 'Always'>();
  for (const c of containers) {
    if (!c.pull) continue;
    const policy = pull ? override[pull] : c.pull;
    const had = out.get(c.image);
    if (!had || rank[policy] > rank[had]) out.set(c.image, policy);
  }
  return [...out].map(([ref, policy]) => ({ ref, policy }));
}

/**
 * Fails, naming each with its last output, when containers of the lab stopped right after starting
 * (the image's or the command's doing, not the engine's); a pod that runs to completion (restartPolicy
 * OnFailure or Never) may stop. `only`: the names of the containers to look at (those just created).
 */
export async function refuseStopped(runtime: Runtime, plan: LabPlan, only?: Set<string>): Promise<void> {
  const oneShot = new Set(plan.pods.filter((p) => p.oneShot).flatMap((p) => p.containers.map((c) => c.name)));
  const stopped = (await runtime.listContainers(labFilter(plan.name))).filter(
    (c) =>
      c.state !== 'running' &&
      c.labels[Label.role] !== 'record' &&
      !oneShot.has(c.name) &&
      (only === undefined || only.has(c.name)),
  );
  if (stopped.length === 0) return;
  const lines = await Promise.all(
    stopped.slice(0, 5).map(async (c) => {
      const log = (await runtime.logs(c.id, { tail: 10 }).catch(() => '')).trimEnd();
      const how = c.exitCode !== undefined ? `exited with code ${c.exitCode}` : `is ${c.state}`;
      return `${c.labels[Label.pod] ?? c.name}${c.labels[Label.container] ? ` container ${c.labels[Label.container]}` : ''} ${how}${log ? `; its last output:\n${log.replace(/^/gm, '      ')}` : ' (no output)'}`;
    }),
  );
  throw new PodFailedError(
    `${count(stopped.length, 'container')} stopped right after starting:\n  ${lines.join('\n  ')}`,
    'fix its image or command (lab up --retain keeps it to look at: lab logs NS/POD); a pod meant to run to completion declares restartPolicy: Never or OnFailure',
  );
}

/** Ensures the images of the lab's own containers among `containers`, each as its pull policy says. */
export async function ensureUserImages(
  runtime: Runtime,
  images: { ref: string; policy: 'Never' | 'IfNotPresent' | 'Always' }[],
  log: (line: string) => void,
): Promise<void> {
  for (const { ref, policy } of images) {
    if (policy === 'Never' || (policy === 'IfNotPresent' && (await runtime.hasImage(ref)))) continue;
    log(`pulling ${ref}`);
    await runtime.pullImage(ref).catch((error: unknown) => {
      throw new RuntimeError(
        `image ${ref} could not be pulled (imagePullPolicy ${policy}): ${(error as Error).message}`,
        `load it into the engine first (docker load -i FILE, or docker build -t ${ref} DIR), and give the container imagePullPolicy: IfNotPresent or run lab up --pull missing`,
      );
    });
  }
}

/**
 * Creates the sandboxes of `pods`, wires them in with CNI ADD (one exec per node) and creates
 * `containers` (of those pods, or of pods whose sandbox already runs) meanwhile; sandbox IDs go to `ids`.
 */
export async function createPods(
  runtime: Runtime,
  plan: LabPlan,
  pods: PodPlan[],
  containers: ContainerSpec[],
  ids: Map<string, string>,
  count?: (done: number, total: number) => void,
  timed?: { clock: Clock; starts: Starts },
): Promise<void> {
  // Sandboxes and containers as they are created: the count a terminal shows (Creating pods 37/212).
  const total = pods.length + containers.length;
  let done = 0;
  const tick = <T>(value: T): T => {
    count?.(++done, total);
    return value;
  };
  const created = await mapLimit(pods, engineConcurrency, async (p) =>
    tick(await runtime.runContainer(p.sandbox)),
  );
  for (const [i, p] of pods.entries()) ids.set(p.key, created[i]!);
  // The pods' own containers join the sandboxes' namespaces while the nodes wire those in.
  const running = mapLimit(containers, engineConcurrency, async (c) => {
    const started = timed?.clock.now() ?? 0;
    const id = await runtime.runContainer(c);
    if (timed) {
      timed.starts.last = timed.clock.now();
      timed.starts.quickest = Math.min(timed.starts.quickest, timed.starts.last - started);
    }
    return tick(id);
  });
  const wiring = Promise.all(
    plan.nodes.map(async (node) => {
      const mine = pods.filter((p) => p.node === node.name);
      if (mine.length === 0) return;
      const input = mine.map((p) => `${p.key} ${ids.get(p.key)} ${p.ip}`).join('\n');
      const lines = jsonLines<CniLine>(await agent(runtime, nodeRef(node), ['cni', 'ADD'], input));
      const failures: string[] = [];
      for (const pod of mine) {
        const line = lines.find((l) => l.pod === pod.key);
        const address = line?.result?.ips?.[0]?.address;
        if (!line || line.error || !address)
          failures.push(`${pod.key}: ${line?.error?.trim() ?? 'no result from the CNI plugin'}`);
        else if (address.split('/')[0] !== pod.ip)
          failures.push(`${pod.key}: the plugin gave ${address}, not the planned ${pod.ip}`);
      }
      if (failures.length) {
        throw new RuntimeError(`CNI ADD failed on node ${node.name}:\n  ${failures.join('\n  ')}`);
      }
    }),
  );
  await Promise.all([running, wiring]);
}

/**
 * Each node checks its pods' addresses (the DNS node first waits for DNS) and, when all is as
 * planned, writes the plan's topology hash as its ready marker: written last, so a lab whose nodes
 * all carry it finished up.
 */
export async function markReady(
  runtime: Runtime,
  plan: LabPlan,
  /** Steps a node runs in the same exec before it is marked ready (a change that only reloads rules). */
  first: (node: NodePlan) => {
    steps: { verb: string; input: string }[];
    env: Record<string, string>;
  } = () => ({
    steps: [],
    env: {},
  }),
): Promise<void> {
  await Promise.all(
    plan.nodes.map(async (node) => {
      const pods = plan.pods.filter((p) => p.node === node.name);
      const dns: Record<string, string> =
        node.name === plan.dns.node
          ? { PODLAB_DNS: `${plan.dns.clusterIP} dns-version.${plan.domain} ${dnsWaitSeconds(plan)}` }
          : {};
      const before = first(node);
      try {
        await agentSteps(
          runtime,
          nodeRef(node),
          [
            ...before.steps,
            {
              verb: 'ready',
              args: [plan.topologyHash],
              input: pods.map((p) => `${p.key} ${p.ip}`).join('\n'),
            },
          ],
          { ...before.env, ...dns },
        );
      } catch (error) {
        throw new RuntimeError(
          `node ${node.name} is not ready: ${(error as Error).message.replace(/^podlab-agent .*?: /, '')}`,
          `look inside with: lab exec ${node.name} -- sh`,
        );
      }
    }),
  );
}

/**
 * One node's whole configuration in one exec (podlab-agent configure): its CNI config, routes,
 * overlay FDB entries, kube-proxy's rules and its NetworkPolicy rules, with the hooks into them.
 */
export async function configureNode(runtime: Runtime, plan: LabPlan, n: NodePlan): Promise<void> {
  await agent(runtime, nodeRef(n), ['configure'], '', {
    PODLAB_CNI: JSON.stringify(n.cniConfig, null, 2),
    PODLAB_ROUTES: configureLines(n).join('\n'),
    PODLAB_FDB: n.overlay?.fdb.join('\n') ?? '',
    PODLAB_RULES: plan.serviceRules + n.policyRules,
    PODLAB_HOOKS: nodeHooks.join('\n'),
  });
}

/** The jumps from the built-in chains a node needs: kube-proxy's and the NetworkPolicy dispatcher's. */
export const nodeHooks: readonly string[] = [...serviceHooks, ...policyHooks];

/** Routes the publisher's connections to the Service range through the first node, and loads its rules: one exec. */
export async function configurePublisher(runtime: Runtime, publisher: PublisherPlan): Promise<void> {
  await agentSteps(
    runtime,
    { name: 'the publisher of host ports', container: publisher.container.name },
    [
      { verb: 'ip-batch', input: publisher.routes.join('\n') },
      { verb: 'iptables', input: publisher.rules },
    ],
    { PODLAB_HOOKS: publishHooks.join('\n') },
  );
}

/** A node's `ip -batch` lines when it is configured whole: its VXLAN device and neighbours (if any), then its routes. */
export function configureLines(node: NodePlan): string[] {
  return [...(node.overlay?.setup ?? []), ...(node.overlay?.neighbours ?? []), ...node.routes];
}

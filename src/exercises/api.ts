import { ProcessOutput, quote, $ as zx$ } from 'zx';
import { agent, agentSteps } from '../agent/agent.js';
import { nodeHooks } from '../apply/actions.js';
import type { NetworkPolicyConfig, Topology } from '../config/types.js';
import type { CheckResult } from '../conformance/checks.js';
import { Label } from '../labels.js';
import { cidrProblem, overlaps, parseCidr } from '../net/ipv4.js';
import { serviceHooks } from '../plan/kube-proxy.js';
import { cniConfigPath } from '../plan/names.js';
import { planLab } from '../plan/plan.js';
import { applyPolicies, policyKey } from '../plan/policy.js';
import type { LabPlan } from '../plan/types.js';
import type { Runtime } from '../runtime/runtime.js';
import { type LabState, observeLab } from '../state/observe.js';
import { resolveTarget, sandboxOf } from '../state/targets.js';

/** A failed exercise assertion: its message is what the learner reads. */
export class ExerciseFailure extends Error {
  override name = 'ExerciseFailure';
}

/** A shell command run inside a node or pod, as a zx-style tagged template. */
export type Shell = (pieces: TemplateStringsArray, ...values: unknown[]) => Promise<ProcessOutput>;

/** Where commands run: a node or a pod container. */
export interface Target {
  /** Runs the command with bash in the target; rejects with the output when it exits non-zero. */
  $: Shell;
  /** Same, but resolves whatever the exit code (check `.exitCode`). */
  nothrow: Shell;
}

/** Builds a command line from a template: every interpolated value is quoted by zx, never code. */
export function commandLine(pieces: TemplateStringsArray, values: unknown[]): string {
  return pieces.reduce((cmd, piece, i) => {
    if (i === 0) return piece;
    const value = values[i - 1];
    const quoted = Array.isArray(value) ? value.map((v) => quote(String(v))).join(' ') : quote(String(value));
    return `${cmd}${quoted}${piece}`;
  }, '');
}

/** What exercises get: the lab, a shell in any node or pod, the conformance checks, and assertions. */
export interface ExerciseLab {
  name: string;
  /** The plan the lab was built from: names, addresses, chains, records. */
  plan: LabPlan;
  topology: Topology;
  status(): Promise<LabState>;
  node(name: string): Target;
  /** `ns/pod` (its first container) or `ns/pod/container`. */
  pod(target: string): Target;
  /** Commands on the lab's host (zx's own `$`). */
  host: { $: typeof zx$ };
  /** Runs conformance checks (all, or the ids given). */
  checks(...ids: string[]): Promise<CheckResult[]>;
  /** The plan of a changed topology (to break a Service on purpose, say). */
  replan(edit: (topology: Topology) => Topology): LabPlan;
  /** Loads kube-proxy rules into nodes (all by default), as `up` does. */
  loadServiceRules(rules: string, nodes?: string[]): Promise<void>;
  /** Calls the CNI plugin for every pod of a node again: DEL, or ADD with each pod's planned IP. */
  cni(node: string, command: 'ADD' | 'DEL'): Promise<void>;
  /**
   * The lab's NetworkPolicies, changed as `lab policy apply` and `delete` change them (recorded, so
   * that status, test and the learner's `lab policy ls` agree).
   */
  policies: {
    list(): Promise<NetworkPolicyConfig[]>;
    /** Adds these, replacing those of the same namespace/name. */
    apply(policies: NetworkPolicyConfig[]): Promise<void>;
    delete(keys: string[]): Promise<void>;
  };
  /**
   * Re-applies the planned state of these objects, and of nothing else: `routes:NODE` (the node's
   * routes to pod ranges; others in the pod range removed), `overlay:NODE` (its VXLAN device's MTU,
   * neighbour and FDB entries), `rules:NODE` (kube-proxy's rules),
   * `cni:NODE` (the CNI config, its pods wired in again, no masquerade left), `resolv:NS/POD` (the
   * pod's resolver), `policy:NS/NAME` (a policy the exercise added: deleted; `policy:*` restores
   * nothing, it marks an exercise that changes policies, so that two are not started at once).
   */
  restore(objects: string[]): Promise<void>;
  assert: Assertions;
}

export interface Assertions {
  ok(value: unknown, message: string): void;
  equal<T>(actual: T, expected: T, message: string): void;
  match(text: string, pattern: RegExp, message: string): void;
  /** Passes when every named conformance check passes; otherwise fails with what they saw. */
  checks(...ids: string[]): Promise<void>;
}

/** Everything needed to build an ExerciseLab; `conformance` and `rebuild` come from the commands. */
export interface ExerciseLabDeps {
  runtime: Runtime;
  topology: Topology;
  state: LabState;
  /** The CNI config template, so that a replanned node config is complete. */
  cniTemplate: Record<string, unknown>;
  conformance(ids: string[]): Promise<CheckResult[]>;
  /** Changes the lab's NetworkPolicies in place (the commands give it; without it, policies cannot change). */
  changePolicies?(edit: (current: NetworkPolicyConfig[]) => NetworkPolicyConfig[]): Promise<void>;
}

export function exerciseLab({
  runtime,
  topology,
  state,
  cniTemplate,
  conformance,
  changePolicies,
}: ExerciseLabDeps): ExerciseLab {
  const editPolicies = async (edit: (current: NetworkPolicyConfig[]) => NetworkPolicyConfig[]) => {
    if (!changePolicies)
      throw new ExerciseFailure('this exercise changes NetworkPolicies: run it with lab exercise');
    await changePolicies(edit);
  };
  const nodeImage = state.network?.labels[Label.image] ?? '';
  const plan = planLab(topology, { nodeSubnet: state.nodeSubnet, nodeImage, cniTemplate });
  const shell =
    (container: () => string, throws: boolean): Shell =>
    async (pieces, ...values) => {
      const command = commandLine(pieces, values);
      const started = performance.now();
      const r = await runtime.exec(container(), ['bash', '-c', command]);
      const output = new ProcessOutput(
        r.exitCode,
        null,
        r.stdout,
        r.stderr,
        r.stdout + r.stderr,
        '',
        performance.now() - started,
      );
      if (throws && r.exitCode !== 0) {
        throw new ExerciseFailure(`\`${command}\` exited ${r.exitCode}: ${(r.stderr || r.stdout).trim()}`);
      }
      return output;
    };
  const target = (container: () => string): Target => ({
    $: shell(container, true),
    nothrow: shell(container, false),
  });
  const nodeContainer = (name: string) => {
    const n = state.nodes.find((x) => x.name === name);
    if (!n) throw new ExerciseFailure(`lab ${state.name} has no node ${name}`);
    return n.container;
  };
  const lab: ExerciseLab = {
    name: state.name,
    plan,
    topology,
    status: async () => (await observeLab(runtime, state.name)) ?? state,
    node: (name) => target(() => nodeContainer(name)),
    pod: (t) => target(() => resolveTarget(state.containers, t, state.name).name),
    host: { $: zx$({ quiet: true }) as typeof zx$ },
    checks: (...ids) => conformance(ids),
    replan: (edit) =>
      planLab(edit(structuredClone(topology)), { nodeSubnet: state.nodeSubnet, nodeImage, cniTemplate }),
    async loadServiceRules(rules, nodes = state.nodes.map((n) => n.name)) {
      await Promise.all(
        nodes.map((n) =>
          agent(runtime, { name: n, container: nodeContainer(n) }, ['iptables'], rules, {
            PODLAB_HOOKS: serviceHooks.join('\n'),
          }),
        ),
      );
    },
    async cni(node, command) {
      const pods = plan.pods.filter((p) => p.node === node);
      const sandboxes = state.containers.filter((c) => c.labels[Label.role] === 'sandbox');
      const input = pods
        .map(
          (p) =>
            `${p.key} ${sandboxes.find((s) => s.labels[Label.pod] === p.key)?.id} ${command === 'ADD' ? p.ip : ''}`,
        )
        .join('\n');
      const out = await agent(
        runtime,
        { name: node, container: nodeContainer(node) },
        ['cni', command],
        input,
      );
      const failed = out.split('\n').filter((l) => l.includes('"error"'));
      if (failed.length) throw new ExerciseFailure(`CNI ${command} failed on ${node}: ${failed.join('; ')}`);
    },
    policies: {
      list: async () => {
        const now = await lab.status();
        return now.recorded?.ok ? now.recorded.topology.networkPolicies : [];
      },
      apply: (policies) => editPolicies((current) => applyPolicies(current, policies)),
      delete: (keys) => editPolicies((current) => current.filter((p) => !keys.includes(policyKey(p)))),
    },
    async restore(objects) {
      const gone = objects.filter((o) => o.startsWith('policy:')).map((o) => o.slice('policy:'.length));
      if (gone.length) await lab.policies.delete(gone);
      for (const object of objects.filter((o) => !o.startsWith('policy:'))) {
        const [kind, what = ''] = object.split(/:(.*)/s);
        if (kind === 'routes') {
          const node = plan.nodes.find((n) => n.name === what);
          if (!node) throw new ExerciseFailure(`restore ${object}: no node ${what}`);
          const routes = (await lab.node(what).$`ip -4 route show`).stdout.split('\n');
          const planned = new Set(node.routes.map((r) => r.split(' ')[2]));
          const inRange = (dest: string) => {
            const cidr = dest.includes('/') ? dest : `${dest}/32`;
            return (
              dest !== 'default' &&
              cidrProblem(cidr) === undefined &&
              overlaps(parseCidr(cidr), parseCidr(plan.podCIDR))
            );
          };
          // Routes a student added into the pod range go; the bridge's own (proto kernel) stays.
          const stray = routes
            .filter((l) => l && !/proto kernel/.test(l) && !l.startsWith('unreachable'))
            .map((l) => l.split(' ')[0]!)
            .filter((dest) => inRange(dest) && !planned.has(dest));
          const batch = [...stray.map((d) => `route del ${d}`), ...node.routes].join('\n');
          await agent(runtime, { name: what, container: nodeContainer(what) }, ['ip-batch'], batch);
        } else if (kind === 'overlay') {
          const overlay = plan.nodes.find((n) => n.name === what)?.overlay;
          if (!overlay) throw new ExerciseFailure(`restore ${object}: node ${what} has no VXLAN overlay`);
          await agentSteps(runtime, { name: what, container: nodeContainer(what) }, [
            {
              verb: 'ip-batch',
              input: [`link set ${overlay.device} mtu ${overlay.mtu} up`, ...overlay.neighbours].join('\n'),
            },
            { verb: 'bridge-batch', input: overlay.fdb.join('\n') },
          ]);
        } else if (kind === 'rules') {
          // kube-proxy's rules and the node's NetworkPolicy rules, as configure loads them.
          const node = plan.nodes.find((n) => n.name === what);
          if (!node) throw new ExerciseFailure(`restore ${object}: no node ${what}`);
          await agent(
            runtime,
            { name: what, container: nodeContainer(what) },
            ['iptables'],
            plan.serviceRules + node.policyRules,
            {
              PODLAB_HOOKS: nodeHooks.join('\n'),
            },
          );
        } else if (kind === 'cni') {
          const node = plan.nodes.find((n) => n.name === what);
          if (!node) throw new ExerciseFailure(`restore ${object}: no node ${what}`);
          await lab.cni(what, 'DEL');
          await lab.node(what)
            .$`iptables-save -t nat | grep -v -e '^-A POSTROUTING .*-j CNI-' | iptables-restore -T nat`;
          await agent(
            runtime,
            { name: what, container: nodeContainer(what) },
            ['write-file', cniConfigPath],
            JSON.stringify(node.cniConfig, null, 2),
          );
          await lab.cni(what, 'ADD');
        } else if (kind === 'resolv') {
          const pod = plan.pods.find((p) => p.key === what);
          const dns = pod?.sandbox.dns;
          if (!pod || !dns) throw new ExerciseFailure(`restore ${object}: no pod ${what}`);
          const text = [
            `search ${dns.search.join(' ')}`,
            ...dns.servers.map((server) => `nameserver ${server}`),
            `options ${dns.options.join(' ')}`,
          ].join('\n');
          // resolv.conf is bind-mounted into the pod's containers: written in place, never replaced.
          const sandbox = sandboxOf(state.containers, what);
          if (!sandbox) throw new ExerciseFailure(`restore ${object}: pod ${what} has no sandbox`);
          await runtime.exec(
            sandbox.name,
            ['sh', '-c', 'printf "%s\\n" "$PODLAB_INPUT" > /etc/resolv.conf'],
            {
              env: { PODLAB_INPUT: text },
            },
          );
        } else throw new ExerciseFailure(`restore: "${object}" is not an object podlab can restore`);
      }
    },
    assert: {
      ok(value, message) {
        if (!value) throw new ExerciseFailure(message);
      },
      equal(actual, expected, message) {
        if (JSON.stringify(actual) !== JSON.stringify(expected)) {
          throw new ExerciseFailure(
            `${message}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`,
          );
        }
      },
      match(text, pattern, message) {
        if (!pattern.test(text))
          throw new ExerciseFailure(
            `${message}: ${JSON.stringify(text.slice(0, 200))} does not match ${pattern}`,
          );
      },
      async checks(...ids) {
        // A check that could not be decided proves nothing fixed either.
        const failed = (await conformance(ids)).filter(
          (r) => r.status === 'failed' || r.status === 'uncertain',
        );
        if (failed.length) {
          throw new ExerciseFailure(
            failed
              .map(
                // What is still wrong, in the rule's terms; never the check's hint, which names the fix.
                (r) =>
                  `${r.id} ${r.status === 'failed' ? 'fails' : 'could not be decided'}: ${r.rule}\n${r.seen}`,
              )
              .join('\n'),
          );
        }
      },
    },
  };
  return lab;
}

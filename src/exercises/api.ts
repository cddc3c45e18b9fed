import { ProcessOutput, quote, $ as zx$ } from 'zx';
import { agent } from '../agent/agent.js';
import type { Topology } from '../config/types.js';
import type { CheckResult } from '../conformance/checks.js';
import { Label } from '../labels.js';
import { serviceHooks } from '../plan/kube-proxy.js';
import { planLab } from '../plan/plan.js';
import type { LabPlan } from '../plan/types.js';
import type { Runtime } from '../runtime/runtime.js';
import { type LabState, observeLab } from '../state/observe.js';
import { resolveTarget } from '../state/targets.js';

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
}

export function exerciseLab({
  runtime,
  topology,
  state,
  cniTemplate,
  conformance,
}: ExerciseLabDeps): ExerciseLab {
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
                (r) =>
                  `${r.id} ${r.status === 'failed' ? 'fails' : 'could not be decided'}: ${r.rule}\n${r.seen}${r.hint ? `\nnext: ${r.hint}` : ''}`,
              )
              .join('\n'),
          );
        }
      },
    },
  };
  return lab;
}

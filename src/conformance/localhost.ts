import { Label } from '../labels.js';
import type { ExecResult, Runtime } from '../runtime/runtime.js';
import type { LabState } from '../state/observe.js';
import { count } from '../text.js';
import { type Check, fail, key, pass, skip } from './check.js';
import { parseEcho, patience, probePort } from './probes.js';

/**
 * Fetches the pod's probe listener on 127.0.0.1 from inside one of its containers: with the
 * container's own curl, or, when its image has none (exit 126 or 127), from a short-lived helper of
 * podlab's image that joins that container's network namespace, as the container itself would see it.
 */
async function fromContainer(
  runtime: Runtime,
  state: LabState,
  container: string,
  seconds: number,
): Promise<ExecResult> {
  const curl = ['curl', '-s', '-m', String(seconds), `http://127.0.0.1:${probePort}/`];
  const own = await runtime.exec(container, curl);
  if (own.exitCode !== 126 && own.exitCode !== 127) return own;
  const helper = `${container}.probe`;
  await runtime.removeContainer(helper);
  await runtime.runContainer({
    name: helper,
    image: state.network?.labels[Label.image] ?? '',
    labels: { [Label.lab]: state.name, [Label.role]: 'probe' },
    env: {},
    cmd: curl,
    network: { mode: 'container', container },
    capAdd: [],
    sysctls: {},
  });
  try {
    const exitCode = await runtime.wait(helper);
    return { exitCode, stdout: await runtime.logs(helper), stderr: '' };
  } finally {
    await runtime.removeContainer(helper);
  }
}

export const podLocalhost: Check = {
  id: 'pod-localhost',
  rule: 'the containers of one pod share a network namespace and talk over localhost',
  async run(ctx) {
    const expected = 'every container of a multi-container pod reaches the pod’s listener on 127.0.0.1';
    const pods = ctx.state.pods.filter((p) => p.containers.length > 1 && p.state === 'running');
    if (pods.length === 0) return skip(expected, 'no pod has more than one container');
    const seen: string[] = [];
    const failures: string[] = [];
    for (const pod of pods) {
      for (const container of pod.containers) {
        const name = ctx.state.containers.find(
          (c) => c.labels[Label.pod] === key(pod) && c.labels[Label.container] === container,
        )?.name;
        // Asked once more, with time to spare, before a miss counts: a busy machine can be slow.
        const ask = (seconds: number) => fromContainer(ctx.runtime, ctx.state, name!, seconds);
        let r = name ? await ask(3) : undefined;
        if (r && parseEcho(r.stdout)?.pod !== pod.name) r = await ask(patience(0) + 5);
        const echo = r ? parseEcho(r.stdout) : undefined;
        if (echo?.pod === pod.name)
          seen.push(`${key(pod)}/${container} → 127.0.0.1 answered by pod ${echo.pod}`);
        else
          failures.push(
            `${key(pod)}/${container}: ${r ? (r.stderr || r.stdout).trim() || `exit ${r.exitCode}` : 'container not found'}`,
          );
      }
    }
    return failures.length
      ? fail(
          expected,
          failures.join('\n'),
          seen,
          'a container that does not share the pod’s namespace was not started with --network container:<sandbox>',
        )
      : pass(
          expected,
          `${count(seen.length, 'container')} of ${count(pods.length, 'pod')} share localhost`,
          seen,
        );
  },
};

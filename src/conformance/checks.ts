import { type Check, type CheckContext, type CheckOutcome, type CheckResult, fail } from './check.js';
import { dnsCrossNamespace, dnsFqdn, dnsPodNetwork, dnsResolvConf, dnsSameNamespace } from './dns.js';
import { podLocalhost } from './localhost.js';
import { podMtu } from './mtu.js';
import { networkPolicy } from './network-policy.js';
import { nodeToPodNoNat, podToNodeNoNat, podToPodNoNat, selfIpEqualsSeenIp } from './no-nat.js';
import { hostPort, nodeportExternal } from './nodeport.js';
import { nodeRoutes } from './routes.js';
import { podToService } from './services.js';

export type { Check, CheckContext, CheckOutcome, CheckResult, CheckStatus } from './check.js';

/** The built-in conformance checks, in the order reports list them; one module per family. */
export const checks: Check[] = [
  podToPodNoNat,
  nodeToPodNoNat,
  podToNodeNoNat,
  selfIpEqualsSeenIp,
  podLocalhost,
  nodeRoutes,
  podMtu,
  podToService,
  nodeportExternal,
  hostPort,
  dnsSameNamespace,
  dnsCrossNamespace,
  dnsFqdn,
  dnsResolvConf,
  dnsPodNetwork,
  networkPolicy,
];

/** Runs the chosen checks concurrently (they do not depend on each other) and times each. */
export async function runChecks(ctx: CheckContext, selected: Check[] = checks): Promise<CheckResult[]> {
  return Promise.all(
    selected.map(async (check) => {
      const started = ctx.clock.now();
      let outcome: CheckOutcome;
      try {
        outcome = await check.run(ctx);
      } catch (error) {
        outcome = fail(check.rule, `the check could not run: ${(error as Error).message}`, []);
      }
      return {
        id: check.id,
        rule: check.rule,
        ...outcome,
        durationMs: Math.round(ctx.clock.now() - started),
      };
    }),
  );
}

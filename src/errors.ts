import { count } from './text.js';

/** Exit codes that every `lab` command keeps: scripts branch on them. */
export const ExitCode = {
  ok: 0,
  failed: 1,
  invalid: 2,
  runtime: 3,
  /** lab test: no check failed, but one could not be decided for reasons that are not the lab's. */
  uncertain: 4,
  interrupted: 130,
} as const;

/** Base of every error podlab raises on purpose; anything else is a bug and shows its stack. */
export abstract class LabError extends Error {
  abstract readonly exitCode: number;
  /** What the user should do next; printed under the message. */
  readonly hint: string | undefined;
  constructor(message: string, hint?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.hint = hint;
  }

  /** The exit code `lab` gives for this error (the README's table), for API users. */
  get code(): number {
    return this.exitCode;
  }
}

/** One problem found in a topology file, pointing at where it is. */
export interface ConfigIssue {
  /** `pods[2].node` style path into the document. */
  path: string;
  message: string;
  severity: 'error' | 'warning';
  /** `file:line:col` when the position is known. */
  position?: string;
}

/** Formats an issue as `path: message (file:line:col)`. */
export function formatIssue(issue: ConfigIssue): string {
  const where = issue.position ? ` (${issue.position})` : '';
  const path = issue.path === '' ? '(document)' : issue.path;
  return `${path}: ${issue.message}${where}`;
}

/** The topology file is unreadable or invalid; carries every problem found, not just the first. */
export class ConfigError extends LabError {
  readonly exitCode = ExitCode.invalid;
  readonly issues: ConfigIssue[];
  constructor(file: string, issues: ConfigIssue[]) {
    const errors = issues.filter((i) => i.severity === 'error');
    super(
      `${file}: ${count(errors.length, 'problem')}:\n${errors.map((i) => `  ${formatIssue(i)}`).join('\n')}`,
      'fix the file and run `lab validate` again',
    );
    this.issues = issues;
  }
}

/** The command line itself is wrong (unknown target, conflicting flags). */
export class UsageError extends LabError {
  readonly exitCode = ExitCode.invalid;
}

/** The Docker engine is missing, refused a request, or a command inside the lab failed to set it up. */
export class RuntimeError extends LabError {
  readonly exitCode = ExitCode.runtime;
}

/** A host port that a lab publishes is held by something else on the engine host. */
export class HostPortTakenError extends LabError {
  readonly exitCode = ExitCode.invalid;
}

/** No Docker engine answers at the address podlab uses (none runs, or it went away mid-command). */
export class EngineUnreachableError extends RuntimeError {}

/** A pod's own image or command failed (a container exited at once): the user's to fix, exit 1. */
export class PodFailedError extends LabError {
  readonly exitCode = ExitCode.failed;
}

/** A lab-level conflict: the lab runs with another topology, a subnet is taken, the lab is not up. */
export class LabStateError extends LabError {
  readonly exitCode = ExitCode.invalid;
}

/** A topology that validation let through cannot be planned (a guard: validation should catch it first). */
export class PlanError extends LabError {
  readonly exitCode = ExitCode.invalid;
}

/** The node subnet picked for a lab was taken by another lab between planning and creating it. */
export class SubnetTakenError extends RuntimeError {}

/** The engine refuses to remove a network that still has endpoints (it may release them a moment later). */
export class NetworkInUseError extends RuntimeError {}

/** The run was interrupted by a signal. */
export class InterruptedError extends LabError {
  readonly exitCode = ExitCode.interrupted;
}

/** Returns the message of anything thrown, without assuming it is an Error. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

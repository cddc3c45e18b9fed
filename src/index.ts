// podlab's public API: `import { Lab } from 'podlab'`. The CLI is built on it (src/commands/up.ts).

export {
  type ExecOutput,
  Lab,
  type LabDeps,
  type LabStatus,
  type LabUpOptions,
  type TestReport,
} from './api/lab.js';
export type { PullMode } from './apply/actions.js';
export {
  ConfigError,
  EngineUnreachableError,
  ExitCode,
  InterruptedError,
  LabError,
  LabStateError,
  PlanError,
  PodFailedError,
  RuntimeError,
  UsageError,
} from './errors.js';

import { Command, CommanderError, Option } from 'commander';
import type { CommandContext } from './commands/context.js';
import { ExitCode, LabError } from './errors.js';

/** The `lab` command line: each command's module is loaded only when it runs, so `lab --help` stays fast. */
export function buildProgram(ctx: () => Promise<CommandContext>, setExit: (code: number) => void): Command {
  const program = new Command('lab')
    .description(
      'Kubernetes-shaped network labs on one Docker engine, with checks that prove the networking rules.',
    )
    .option('-v, --verbose', 'show stack traces of errors')
    .showHelpAfterError('(run lab --help for usage)')
    .configureOutput({ outputError: (str, write) => write(str) })
    .exitOverride();

  const file = () =>
    new Option('-f, --file <file>', 'topology file (default: ./lab.yaml, else the shipped example)');
  const run =
    <A extends unknown[]>(
      load: () => Promise<{ default: (c: CommandContext, ...args: A) => Promise<number> }>,
    ) =>
    async (...args: A) => {
      const command = await load();
      setExit(await command.default(await ctx(), ...args));
    };

  program
    .command('up')
    .description(
      'create the lab: nodes, bridge CNI, pods and routes; a running lab with another topology is changed in place',
    )
    .addOption(file())
    .option('--dry-run', 'print what up would create or change (the diff for a running lab), and do nothing')
    .option('--retain', 'keep what was created when up fails, to look at it')
    .option('--json', 'print the resulting status as JSON')
    .option('--test', 'run the conformance checks once the lab is up (exit 1 when one fails)')
    .option('--reporter <name>', 'with --test: pretty, json, junit, tap or github', undefined)
    .option('--output <file>', 'with --test: write the report to a file (the pretty summary still prints)')
    .option(
      '--pull <mode>',
      "always, missing or never: overrides every container's imagePullPolicy (never: an air-gapped run)",
    )
    .action(run(() => import('./commands/up.js')));
  program
    .command('down')
    .description('remove everything labelled with the lab, also after a crash or an interrupted up')
    .argument('[name]', 'lab name')
    .addOption(file())
    .option('--all', 'remove every podlab lab')
    .option('--force', 'stop a running lab up of the lab (it rolls back) instead of waiting for it')
    .option('--ignore-not-found', 'exit 0 when the lab does not exist')
    .option('--yes', 'with --all: remove every lab without asking')
    .option(
      '--engine <host...>',
      'also look on these engines (unix://, tcp:// or ssh://): a lab across engines whose record is gone',
    )
    .action(run(() => import('./commands/down.js')));
  program
    .command('status')
    .description('show a running lab as the engine has it')
    .argument('[name]', 'lab name')
    .addOption(file())
    .option('--json', 'print JSON')
    .action(run(() => import('./commands/status.js')));
  program
    .command('ls')
    .description('list the labs that exist in the engine, and who made each')
    .option('--json', 'print JSON')
    .action(run(() => import('./commands/ls.js')));
  program
    .command('exec')
    .description('run a command in a node (NODE), a pod (NS/POD) or one of its containers (NS/POD/CONTAINER)')
    .argument('<target>', 'NODE, NS/POD or NS/POD/CONTAINER')
    .argument('<command...>', 'the command and its arguments, after --')
    .addOption(file())
    .option('--lab <name>', 'lab name')
    .option('-i, --interactive', 'pass standard input to the command')
    .option('-t, --tty', 'run the command on a terminal (-it for a shell)')
    .action(run(() => import('./commands/exec.js')));
  program
    .command('logs')
    .description('a container’s output, as docker logs gives it (also kube-system/kube-dns-0)')
    .argument('<target>', 'NS/POD (its first container) or NS/POD/CONTAINER')
    // -f is --follow here, as in docker logs: the file is --file.
    .option('--file <file>', 'topology file (default: ./lab.yaml, else the shipped example)')
    .option('--lab <name>', 'lab name')
    .option('-f, --follow', 'keep printing new output until Ctrl-C')
    .option('--tail <n>', 'only the last N lines')
    .option('--since <time>', 'only output since then: 90s, 5m, 2h, Unix seconds or an RFC 3339 time')
    .action(run(() => import('./commands/logs.js')));
  program
    .command('test')
    .description("run the conformance checks that prove Kubernetes' networking rules on a running lab")
    .argument('[name]', 'lab name')
    .addOption(file())
    .option('--lab <name>', 'lab name (the same as NAME)')
    .option('--only <id...>', 'run only these checks (space- or comma-separated)')
    .option(
      '--exhaustive',
      'probe every pod to every node and to a pod on every other node, and the MTU of every node pair (by default a set that grows with the lab, not its square)',
    )
    .option('--reporter <name>', 'pretty, json, junit, tap or github', 'pretty')
    .option('--output <file>', 'write the report to a file (the pretty summary still prints)')
    .action(run(() => import('./commands/test.js')));
  const exercise = program
    .command('exercise')
    .description('classroom mode: exercises that break the lab and grade the fix');
  const lab = () => new Option('--lab <name>', 'the lab (its recorded exercises; works from any folder)');
  const sub = (name: string, description: string, fn: string) =>
    exercise
      .command(name)
      .description(description)
      .addOption(file())
      .addOption(lab())
      .action(run(async () => ({ default: (await import('./commands/exercise.js'))[fn as 'list'] })));
  sub('list', "the lab's exercises, with progress when it is up", 'list').option('--json', 'print JSON');
  sub('start', 'break the lab the way the exercise says (its check must then fail)', 'start').argument(
    '<id>',
    'exercise id',
  );
  sub('hint', 'the next hint (of the exercise started last when no id is given)', 'hint')
    .argument('[id]', 'exercise id')
    .option('--all', 'every hint (each is recorded)');
  sub('check', 'grade the lab as it is now: exit 0 fixed, 1 not yet, 2 not started', 'check')
    .argument('[id]', 'exercise id')
    .option('--reporter <name>', 'pretty, or github (an annotation and a step-summary table)', 'pretty');
  sub(
    'solution',
    'the intended fix, as lab exec commands (recorded: the report shows it)',
    'solution',
  ).argument('<id>', 'exercise id');
  sub('reset', 'undo what the exercise broke, and nothing else (credit is kept)', 'reset').argument(
    '<id>',
    'exercise id',
  );
  sub(
    'report',
    'per exercise: started, attempts, hints, solved at, time to solve, solution seen',
    'report',
  ).option('--reporter <name>', 'pretty, json or junit', 'pretty');
  const policy = program
    .command('policy')
    .description(
      "NetworkPolicies of a running lab: apply, delete, list, explain (the lab's recorded topology follows)",
    );
  const target = (c: Command) =>
    c
      .addOption(file())
      .addOption(
        new Option(
          '--lab <name>',
          'the lab (default: the one of -f FILE or ./lab.yaml, else the only one up)',
        ),
      );
  const policyRun = (fn: 'apply' | 'remove' | 'ls' | 'explain') =>
    run(async () => ({ default: (await import('./commands/policy.js'))[fn] as never }));
  target(
    policy
      .command('apply')
      .description(
        'add NetworkPolicy manifests (YAML files, one or more documents each); same namespace/name replaces',
      )
      .argument('<files...>', 'manifest files')
      .option('--dry-run', 'say what would be created or configured, change nothing'),
  ).action(policyRun('apply'));
  target(
    policy
      .command('delete')
      .description('remove NetworkPolicies by NAMESPACE/NAME')
      .argument('<names...>', 'NAMESPACE/NAME (default namespace when no /)'),
  ).action(policyRun('remove'));
  target(
    policy
      .command('ls')
      .description("the lab's NetworkPolicies and the pods each selects")
      .option('--json', 'print JSON'),
  ).action(policyRun('ls'));
  target(
    policy
      .command('explain')
      .description('allowed or denied, and which policies and rules decide it (from the plan)')
      .argument('<from>', 'NAMESPACE/POD, a node name, or an address')
      .argument('<to>', 'NAMESPACE/POD, a node name, or an address')
      .argument('<port>', 'PORT[/TCP|UDP], or icmp')
      .option('--probe', 'also send it for real from FROM (exit 1 when the lab disagrees with the plan)')
      .option('--json', 'print JSON'),
  ).action(policyRun('explain'));
  program
    .command('dns')
    .description("resolve a name as a pod's resolver does, showing each name the search list tries")
    .argument('<name>', 'the name to resolve, e.g. foo or foo.bar')
    .requiredOption('--from <pod>', 'the pod whose resolver to use: NS/POD')
    .option('-t, --type <type>', 'record type (A, SRV, TXT, PTR, …)', 'A')
    .addOption(file())
    .option('--lab <name>', 'lab name')
    .option('--json', 'print JSON')
    .action(run(() => import('./commands/dns.js')));
  program
    .command('graph')
    .description('the lab as a picture: nodes and their pods, routes, Services and their endpoints')
    .argument('[name]', 'a running lab (default: the file’s lab when it is up, else the file’s plan)')
    .addOption(file())
    .option('--format <format>', 'mermaid, dot or svg (default: from --output’s name, else mermaid)')
    .option('--output <file>', 'write the picture to a file')
    .action(run(() => import('./commands/graph.js')));
  program
    .command('doctor')
    .description(
      'check this host for what breaks labs (engine, kernel modules, capabilities, subnets), with fixes',
    )
    .option('--json', 'print JSON')
    .action(run(() => import('./commands/doctor.js')));
  program
    .command('validate')
    .description('check a topology file and report every problem with its position')
    .addOption(file())
    .option('--json', 'print JSON')
    .action(run(() => import('./commands/validate.js')));
  program
    .command('plan')
    .description(
      'print what up would create (addresses, routes, CNI configs, containers) without touching Docker',
    )
    .addOption(file())
    .option('--json', 'print JSON')
    .action(run(() => import('./commands/plan.js')));
  program
    .command('image')
    .description('build the node image now (up builds it when missing)')
    .option('--rebuild', 'build even when the image exists')
    .action(run(() => import('./commands/image.js')));
  return program;
}

/** Runs the CLI; returns the exit code. The one place that turns errors into messages and codes. */
export async function main(argv: string[]): Promise<number> {
  let code: number = ExitCode.ok;
  const verbose = argv.includes('-v') || argv.includes('--verbose');
  const program = buildProgram(
    async () => (await import('./commands/context.js')).defaultContext(),
    (c) => {
      code = c;
    },
  );
  try {
    await program.parseAsync(argv);
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.exitCode === 0
      )
        return ExitCode.ok;
      return ExitCode.invalid;
    }
    if (error instanceof LabError) {
      process.stderr.write(`error: ${error.message}\n`);
      if (error.hint) process.stderr.write(`  → ${error.hint}\n`);
      if (verbose && error.stack) process.stderr.write(`${error.stack}\n`);
      return error.exitCode;
    }
    process.stderr.write(
      `unexpected error (a bug in podlab; please report it): ${error instanceof Error ? (verbose ? error.stack : error.message) : String(error)}\n`,
    );
    if (!verbose) process.stderr.write('  → run again with --verbose for the stack trace\n');
    return ExitCode.runtime;
  }
}

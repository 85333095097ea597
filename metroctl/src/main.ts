// Composition root of metroctl: the only place that reads argv and the environment (HOME,
// KUBECONFIG), builds the dependencies, and turns errors into one line and an exit code.
import { homedir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import process from 'node:process';
import { Command, CommanderError, Option } from 'commander';
import { errorMessage } from '@metropolis/errors';
import { createLogger, type Logger } from '@metropolis/logging';
import type { CliContext, GlobalOptions } from './commands/cli-context.js';
import { bootstrapCommand } from './commands/cluster/bootstrap.js';
import { ownerKeyCommand } from './commands/cluster/owner-key.js';
import { registerTicketCommand } from './commands/cluster/register-ticket.js';
import { rotateTicketCommand } from './commands/cluster/rotate-ticket.js';
import { configureCommand } from './commands/k8s/configure.js';
import { addRoleCommand } from './commands/node/add-role.js';
import { approveCommand } from './commands/node/approve.js';
import { describeCommand } from './commands/node/describe.js';
import { listCommand } from './commands/node/list.js';
import { logsCommand } from './commands/node/logs.js';
import { removeRoleCommand } from './commands/node/remove-role.js';
import { applyCommand } from './commands/update/apply.js';
import { pauseCommand } from './commands/update/pause.js';
import { resumeCommand } from './commands/update/resume.js';
import { statusCommand } from './commands/update/status.js';
import { ConfigStore } from './core/config-store.js';
import { MetroctlError, exitCodeFor, exitCodes } from './errors.js';

interface Defaults {
  readonly config: string;
  readonly kubeconfig: string;
}

/** Defaults from the environment: ~/.metroctl, and $KUBECONFIG's first file or ~/.kube/config. */
function defaultsFrom(env: NodeJS.ProcessEnv): Defaults {
  const home = env.HOME ?? homedir();
  // Like kubectl, KUBECONFIG may list several files; metroctl reads and writes the first.
  const fromEnv = (env.KUBECONFIG ?? '').split(delimiter).find((path) => path !== '');
  return {
    config: join(home, '.metroctl'),
    kubeconfig: fromEnv ?? join(home, '.kube', 'config'),
  };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, ...value.split(',').filter((part) => part !== '')];
}

function program(context: CliContext, defaults: Defaults): Command {
  const root = new Command('metroctl')
    .description(
      'Owns and manages a Metropolis cluster: bootstrap, nodes, roles, logs, OS updates.',
    )
    .option(
      '--config <dir>',
      'config directory: owner key and certificate, cluster CA',
      defaults.config,
    )
    .option('--kubeconfig <path>', 'kubeconfig to read and write', defaults.kubeconfig)
    .option('--context <name>', 'kubeconfig context to use and to write', 'metroctl')
    .addOption(
      new Option('--endpoints <addr>', 'node address; repeatable (or comma-separated)')
        .argParser(collect)
        .default([], 'none'),
    )
    .option('-v, --verbose', 'debug logs on stderr', false)
    .exitOverride()
    .showHelpAfterError()
    .configureOutput({
      writeOut: (text) => process.stdout.write(text),
      writeErr: (text) => process.stderr.write(text),
    });
  root
    .command('cluster')
    .description('bootstrap and manage the cluster')
    .addCommand(ownerKeyCommand(context))
    .addCommand(bootstrapCommand(context))
    .addCommand(registerTicketCommand(context))
    .addCommand(rotateTicketCommand(context));
  root.addCommand(approveCommand(context));
  root
    .command('node')
    .description('inspect and manage nodes')
    .addCommand(describeCommand(context))
    .addCommand(listCommand(context))
    .addCommand(addRoleCommand(context))
    .addCommand(removeRoleCommand(context))
    .addCommand(logsCommand(context));
  root
    .command('update')
    .description("update the nodes' operating system: OSUpdate resources")
    .addCommand(applyCommand(context))
    .addCommand(statusCommand(context))
    .addCommand(pauseCommand(context))
    .addCommand(resumeCommand(context));
  root.command('k8s').description('Kubernetes access').addCommand(configureCommand(context));
  // Subcommands inherit exitOverride only if set on each; errors must reach main() as throws.
  const overrideAll = (command: Command): void => {
    command.exitOverride();
    command.commands.forEach(overrideAll);
  };
  overrideAll(root);
  return root;
}

/** The global options commander parsed, typed. */
function globalOptions(root: Command): GlobalOptions {
  const options: Record<string, unknown> = root.opts();
  const text = (key: string): string => {
    const value = options[key];
    return typeof value === 'string' ? value : '';
  };
  const endpoints = options.endpoints;
  return {
    config: resolve(text('config')),
    kubeconfig: resolve(text('kubeconfig')),
    context: text('context'),
    endpoints: Array.isArray(endpoints) ? endpoints.map(String) : [],
    verbose: options.verbose === true,
  };
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function notice(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  // Only commands that ask for the signal (streams) handle Ctrl-C themselves; for all others
  // it ends the process at once, as usual.
  let abort: AbortController | undefined;
  const interruptSignal = (): AbortSignal => {
    if (abort === undefined) {
      const controller = new AbortController();
      abort = controller;
      process.once('SIGINT', () => {
        controller.abort();
        // A second Ctrl-C does not wait for the stream to wind down.
        process.once('SIGINT', () => process.exit(exitCodes.interrupted));
      });
    }
    return abort.signal;
  };

  let logger: Logger | undefined;
  // Called from actions only, when `root` exists and commander has parsed the globals.
  const globals = (): GlobalOptions => globalOptions(root);
  const getLogger = (): Logger => {
    logger ??= createLogger({ format: 'cli', level: globals().verbose ? 'debug' : 'info' });
    return logger;
  };
  const context: CliContext = {
    globals,
    logger: getLogger,
    config: () => new ConfigStore(globals().config),
    // client-node takes most of a second to load: only commands that use Kubernetes pay.
    kubeConfig: async () => {
      const { loadKubeConfig } = await import('./core/load-kube-config.js');
      const { kubeconfig, context: name } = globals();
      return loadKubeConfig(kubeconfig, name);
    },
    nodes: async () => {
      const { MonogonNodes } = await import('./core/monogon-nodes.js');
      return MonogonNodes.fromKubeConfig(await context.kubeConfig());
    },
    updates: async () => {
      const { OSUpdates } = await import('./core/os-updates.js');
      return OSUpdates.fromKubeConfig(await context.kubeConfig());
    },
    print,
    write: (text) => process.stdout.write(text),
    stdout: {
      isTTY: process.stdout.isTTY,
      // Read at each redraw: the terminal may be resized while --watch runs.
      columns: () => (process.stdout.isTTY ? process.stdout.columns : undefined),
    },
    notice,
    interruptSignal,
    now: () => new Date(),
  };
  const root = program(context, defaultsFrom(env));

  try {
    await root.parseAsync([...argv]);
    return abort?.signal.aborted === true ? exitCodes.interrupted : exitCodes.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander printed the problem (or the help) already.
      return error.exitCode === 0 ? exitCodes.ok : exitCodes.usage;
    }
    if (error instanceof MetroctlError) {
      notice(`metroctl: ${error.message}`);
      getLogger().debug('error', { code: error.code, cause: errorMessage(error.cause) });
      return exitCodeFor(error.code);
    }
    notice(`metroctl: unexpected error: ${errorMessage(error)}`);
    if (error instanceof Error && error.stack !== undefined) getLogger().debug(error.stack);
    return exitCodes.failed;
  }
}

process.exitCode = await main(process.argv, process.env);

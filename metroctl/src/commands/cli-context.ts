// What command files get from the composition root: resolved global flags, lazily built
// dependencies, and where results (stdout) and notices (stderr) go. Commands read no env.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '@metropolis/logging';
import type { ConfigStore } from '../core/config-store.js';
import type { MonogonNodes } from '../core/monogon-nodes.js';
import type { OSUpdates } from '../core/os-updates.js';

/** The global flags, with defaults applied. */
export interface GlobalOptions {
  /** --config: the config directory. */
  readonly config: string;
  /** --kubeconfig */
  readonly kubeconfig: string;
  /** --context: kubeconfig context to use and to write. */
  readonly context: string;
  /** --endpoints, repeatable. */
  readonly endpoints: readonly string[];
  readonly verbose: boolean;
}

export interface CliContext {
  /** The global flags; call inside an action, once commander has parsed them. */
  globals(): GlobalOptions;
  logger(): Logger;
  /** The config directory of --config. */
  config(): ConfigStore;
  /** The kubeconfig of --kubeconfig with the context of --context selected. */
  kubeConfig(): Promise<KubeConfig>;
  /** MonogonNodes through the kubeconfig context of --kubeconfig/--context. */
  nodes(): Promise<MonogonNodes>;
  /** OSUpdates through the kubeconfig context of --kubeconfig/--context. */
  updates(): Promise<OSUpdates>;
  /** Writes a result line to stdout. */
  print(line: string): void;
  /** Writes text to stdout as is (no newline added): for blocks that --watch redraws. */
  write(text: string): void;
  /** What stdout is: a terminal (redraw in place, wrap at `columns`) or a pipe or file. */
  readonly stdout: { readonly isTTY: boolean; columns(): number | undefined };
  /** Writes a line for the human to stderr (not a log record: no level, no fields). */
  notice(line: string): void;
  /**
   * Aborted on Ctrl-C. A command that calls this handles Ctrl-C itself (ends its stream, exits
   * 130); for every other command Ctrl-C ends the process at once.
   */
  interruptSignal(): AbortSignal;
  now(): Date;
}

// A child process that cannot outlive its parent (PR_SET_PDEATHSIG through util-linux
// setpriv), writes its output to a log file, and stops with SIGTERM, then SIGKILL after a grace.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, openSync, closeSync } from 'node:fs';
import { ProcessError } from './errors.js';

/** How a managed process ended. */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface ManagedProcessOptions {
  /** Absolute path of the executable. */
  readonly command: string;
  readonly args: readonly string[];
  /** File that receives stdout and stderr (appended). */
  readonly logFile: string;
  readonly cwd?: string;
  /** Complete environment of the child. @default the parent's environment */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Prefix of the command line, e.g. `['ip', 'netns', 'exec', 'node0']`. The death signal is
   * set after it, on the real program.
   * @default []
   */
  readonly wrapper?: readonly string[];
}

const setpriv = '/usr/bin/setpriv';

/** A started child process. Create with {@link ManagedProcess.start}. */
export class ManagedProcess {
  readonly pid: number;
  /** Resolves once the process has exited, however it ended. */
  readonly exited: Promise<ProcessExit>;
  #child: ChildProcess;
  #exit: ProcessExit | undefined;

  private constructor(child: ChildProcess, pid: number) {
    this.#child = child;
    this.pid = pid;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        resolve(this.#exit);
      });
    });
  }

  /** Starts the process; resolves once it has been spawned (not once it is ready). */
  static async start(options: ManagedProcessOptions): Promise<ManagedProcess> {
    try {
      accessSync(options.command, constants.X_OK);
    } catch (cause) {
      throw new ProcessError('PROCESS_BINARY_MISSING', `not an executable: ${options.command}`, {
        cause,
      });
    }
    // The kernel delivers SIGKILL to the child when this process dies, even by SIGKILL, so a
    // crashed test or launcher leaves no stray etcd or kube-apiserver behind.
    const argv = [
      ...(options.wrapper ?? []),
      setpriv,
      '--pdeathsig',
      'KILL',
      '--',
      options.command,
      ...options.args,
    ];
    const [file, ...rest] = argv;
    if (file === undefined) throw new ProcessError('PROCESS_SPAWN_FAILED', 'empty command line');
    const log = openSync(options.logFile, 'a');
    try {
      const child = spawn(file, rest, {
        cwd: options.cwd,
        env: options.env,
        stdio: ['ignore', log, log],
      });
      const pid = await new Promise<number>((resolve, reject) => {
        child.once('spawn', () => {
          resolve(child.pid ?? -1);
        });
        child.once('error', (cause) => {
          reject(
            new ProcessError('PROCESS_SPAWN_FAILED', `could not start ${options.command}`, {
              cause,
            }),
          );
        });
      });
      return new ManagedProcess(child, pid);
    } finally {
      closeSync(log);
    }
  }

  /** How the process ended, or undefined while it runs. */
  get exit(): ProcessExit | undefined {
    return this.#exit;
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. Safe to call twice. */
  async stop(graceMs = 10_000): Promise<ProcessExit> {
    if (this.#exit) return this.#exit;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Synchronous SIGKILL, for process 'exit' handlers where nothing can be awaited. */
  killNow(): void {
    if (!this.#exit) this.#child.kill('SIGKILL');
  }
}

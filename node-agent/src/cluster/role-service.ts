// One role service (etcd, kube-apiserver, the operator) as a process that can be started and
// stopped on its own: restarted with backoff when it exits, stopped when its role goes, and
// telling whether it runs right now (a health check reads it).
import { join } from 'node:path';
import { errorMessage } from '@metropolis/errors';
import type { Logger } from '@metropolis/logging';
import { ManagedProcess } from '@metropolis/process';
import type { Supervisor } from '@metropolis/supervisor';
import { AgentError } from '../errors.js';

export interface RoleServiceSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /**
   * Variables set for the process on top of the agent's own environment (through env(1), so
   * the agent needs to read none of its own).
   */
  readonly environment?: Readonly<Record<string, string>>;
  /** Where the service's output goes (`<name>.log`). */
  readonly logDir: string;
  /** Called when the process started or exited. */
  readonly onStateChange?: () => void;
}

/** Whether the process runs now; when not, why (starting, or how it last exited). */
export type ServiceState =
  | { readonly running: true; readonly pid: number }
  | { readonly running: false; readonly why: string };

/** Sets variables and runs the rest of its command line (coreutils). */
const envProgram = '/usr/bin/env';

/** A crashing service is restarted after at least this long, so a crash is seen, not hidden. */
const minRestartDelayMs = 1_000;

/** How long a stopping service may shut down gracefully before it is killed. */
const defaultStopGraceMs = 10_000;

export class RoleService {
  readonly name: string;
  readonly #supervisor: Supervisor;
  readonly #log: Logger;
  #state: ServiceState = { running: false, why: 'starting' };
  #stopGraceMs = defaultStopGraceMs;
  /** Set by {@link stop}: only then is the process ended (see start). */
  #stopping = false;
  #process: ManagedProcess | undefined;

  private constructor(name: string, supervisor: Supervisor, log: Logger) {
    this.name = name;
    this.#supervisor = supervisor;
    this.#log = log;
  }

  get state(): ServiceState {
    return this.#state;
  }

  /**
   * Starts the process now as the subtree `spec.name` of `parent` (which logs its restarts); it
   * runs until {@link stop}, also after `parent` stops (no restart then).
   */
  static start(spec: RoleServiceSpec, parent: Supervisor, log: Logger): RoleService {
    const supervisor = parent.child(spec.name, { minBackoffMs: minRestartDelayMs });
    const service = new RoleService(spec.name, supervisor, log);
    const setState = (state: ServiceState): void => {
      service.#state = state;
      spec.onStateChange?.();
    };
    supervisor.run('process', async (signal) => {
      const child = await ManagedProcess.start({
        command: spec.command,
        args: spec.args,
        logFile: join(spec.logDir, `${spec.name}.log`),
        ...(spec.environment === undefined
          ? {}
          : {
              wrapper: [
                envProgram,
                ...Object.entries(spec.environment).map(([key, value]) => `${key}=${value}`),
              ],
            }),
      }).catch((error: unknown) => {
        setState({ running: false, why: `could not start: ${errorMessage(error)}` });
        throw error;
      });
      log.info('service started', { service: spec.name, pid: child.pid });
      setState({ running: true, pid: child.pid });
      service.#process = child;
      // A stopping parent (the agent shutting down) does not end the process: the roles loop
      // stops the services in order (operator, kube-apiserver, etcd), so each can still reach
      // the next one down while it shuts down; only stop() ends it. A crashed agent's services
      // die with it (pdeathsig).
      if (service.#stopping) void child.stop(service.#stopGraceMs);
      const exit = await child.exited;
      service.#process = undefined;
      const how = exit.signal === null ? `exit code ${String(exit.code)}` : `signal ${exit.signal}`;
      const see = `see ${spec.name}.log`;
      setState({ running: false, why: `exited (${how}) at ${new Date().toISOString()}; ${see}` });
      if (!signal.aborted) {
        throw new AgentError('AGENT_CONTROL_PLANE', `${spec.name} exited (${how}); ${see}`);
      }
    });
    return service;
  }

  /**
   * Stops the process (SIGTERM, then SIGKILL after `graceMs`) and resolves once it has exited.
   */
  async stop(graceMs = defaultStopGraceMs): Promise<void> {
    const started = performance.now();
    this.#stopGraceMs = graceMs;
    this.#stopping = true;
    void this.#process?.stop(graceMs);
    await this.#supervisor.stop();
    this.#log.info('service stopped', {
      service: this.name,
      ms: Math.round(performance.now() - started),
    });
  }
}

// One role service (etcd, kube-apiserver, the operator) as a process that can be started and
// stopped on its own: restarted with backoff when it exits, stopped when its role goes.
import { join } from 'node:path';
import { errorMessage } from '@metropolis/errors';
import type { Logger } from '@metropolis/logging';
import { ManagedProcess } from '@metropolis/process';
import { Supervisor } from '@metropolis/supervisor';
import { AgentError } from '../errors.js';

export interface RoleServiceSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Where the service's output goes (`<name>.log`). */
  readonly logDir: string;
}

export class RoleService {
  readonly name: string;
  readonly #controller = new AbortController();
  readonly #supervisor: Supervisor;

  private constructor(name: string, supervisor: Supervisor) {
    this.name = name;
    this.#supervisor = supervisor;
  }

  /** Starts the process now; it runs until {@link stop} or until `parent` aborts. */
  static start(spec: RoleServiceSpec, parent: AbortSignal, log: Logger): RoleService {
    const controller = new AbortController();
    const supervisor = new Supervisor(AbortSignal.any([parent, controller.signal]), {
      onRestart: (name, error, delayMs) => {
        log.error('service failed, restarting', {
          service: name,
          error: errorMessage(error),
          delayMs,
        });
      },
    });
    const service = new RoleService(spec.name, supervisor);
    service.#controller.signal.addEventListener('abort', () => {
      controller.abort();
    });
    supervisor.run(spec.name, async (signal) => {
      const child = await ManagedProcess.start({
        command: spec.command,
        args: spec.args,
        logFile: join(spec.logDir, `${spec.name}.log`),
      });
      log.info('service started', { service: spec.name, pid: child.pid });
      const stop = (): void => {
        void child.stop();
      };
      signal.addEventListener('abort', stop, { once: true });
      const exit = await child.exited;
      signal.removeEventListener('abort', stop);
      if (!signal.aborted) {
        throw new AgentError(
          'AGENT_CONTROL_PLANE',
          `${spec.name} exited (code ${String(exit.code)}, signal ${String(exit.signal)}); see ${spec.name}.log`,
        );
      }
    });
    return service;
  }

  /** Stops the process and resolves once it has exited. */
  async stop(): Promise<void> {
    this.#controller.abort();
    await this.#supervisor.done();
  }
}

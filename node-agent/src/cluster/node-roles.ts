// The roles this node runs: the owner's choice as applied by the operator (kept by the role
// record), turned into services (etcd; kube-apiserver and the operator) and reported running
// only once they serve: a consensus member once it is a voting etcd member, a controller once
// its kube-apiserver is ready and its operator runs. KubernetesWorker is recorded, not run.
// Each service of a recorded role is also a health check: up, and answering its own endpoint.
import {
  controlPlanePorts,
  roleServices,
  sortRoles,
  type CheckConsensusResponse,
  type RoleNotice,
} from '@metropolis/api';
import { errorMessage } from '@metropolis/errors';
import { Value } from '@metropolis/event';
import { sleep, type Supervisor } from '@metropolis/supervisor';
import { AgentError } from '../errors.js';
import type { CheckResult } from '../health/health-book.js';
import { RoleRecord, validRoles, type Role, type RoleConfig } from './role-record.js';
import type { RoleServices, RoleServicesDeps } from './role-services.js';

export type { Role } from './role-record.js';
export type { RoleBinaries } from './role-services.js';

export interface ApplyOptions {
  /** etcd's initial cluster, when ConsensusMember is added. */
  readonly initialCluster?: string | undefined;
  /** Check only; record nothing. */
  readonly validateOnly?: boolean;
}

/** What the role services need, passed on to them, and what the roles loop adds. */
export interface NodeRolesDeps extends Pick<
  RoleServicesDeps,
  | 'layout'
  | 'nodeId'
  | 'address'
  | 'binaries'
  | 'kubeApiserverArgs'
  | 'credentials'
  | 'etcdRevocationList'
  | 'heartbeatTimeoutSeconds'
  | 'log'
> {
  /** This node holds the cluster CA and serves registration: it keeps its control plane. */
  readonly holdsCa: boolean;
  /** Runs once per boot after kube-apiserver is first ready and before the operator starts. */
  readonly beforeOperator?: (apiserverUrl: string) => Promise<void>;
  /** Called when the set of running roles changed. */
  readonly onChanged: () => void;
  /** Receives the health checks of the recorded roles' services after every probe. */
  readonly reportHealth: (checks: readonly CheckResult[]) => void;
  /** How often the services are probed. @default 1000 */
  readonly probeMs?: number;
}

/** The probe period while a role waits for its service, for at most {@link awaitWindowMs}. */
const awaitingProbeMs = 100;
const awaitWindowMs = 30_000;

const notBuilt: Partial<Record<Role, string>> = {
  KubernetesWorker:
    'KubernetesWorker is not built yet: the role is recorded, but this node runs no kubelet',
};

export class NodeRoles {
  readonly #deps: NodeRolesDeps;
  readonly #record: RoleRecord;
  /** The role services; loaded once a recorded role has any (see {@link #loadServices}). */
  #services: RoleServices | undefined;
  readonly #running = new Value<readonly Role[]>([], {
    equals: (a, b) => a.join(',') === b.join(','),
  });
  #etcdVoting = false;
  #apiserverReady = false;
  #operatorPrepared = false;
  /** Counts requests for a pass before the probe period ends (a recorded change, a service event). */
  readonly #kicks = new Value(0);
  /** Until when a role that waits to serve is probed every {@link awaitingProbeMs}. */
  #awaitUntilMs = 0;
  /** When the services' health was last reported, and the report while one runs. */
  #healthAtMs = 0;
  #healthReport: Promise<void> | undefined;
  /** The kicks counted at the last health report: a service event is reported at once. */
  #healthKicks = -1;
  /** Where the role services run as subtrees; set by {@link run}. */
  #tree: Supervisor | undefined;

  constructor(deps: NodeRolesDeps) {
    this.#deps = deps;
    this.#record = new RoleRecord(deps.layout.roleConfig);
  }

  /** Roles whose services serve right now. */
  get running(): readonly Role[] {
    return this.#running.get();
  }

  get apiserverUrl(): string {
    return `https://${this.#deps.address}:${String(controlPlanePorts.kubeApiserver)}`;
  }

  /** How the local etcd member serves now (CheckConsensus); not a member when none runs. */
  async checkConsensus(): Promise<CheckConsensusResponse> {
    return (
      (await this.#services?.checkConsensus()) ?? {
        member: false,
        serves: false,
        learner: false,
        quorate: false,
        error: 'no etcd member runs on this node',
      }
    );
  }

  /** Roles whose credentials are renewed: those recorded that have services. */
  get credentialedRoles(): readonly ('ConsensusMember' | 'KubernetesController')[] {
    return this.#record.config.roles.filter(
      (role) => role === 'ConsensusMember' || role === 'KubernetesController',
    );
  }

  /** Lets the services pick up renewed credentials; see {@link RoleServices.credentialsRenewed}. */
  async credentialsRenewed(role: 'ConsensusMember' | 'KubernetesController'): Promise<void> {
    await this.#services?.credentialsRenewed(role);
    this.#kick();
  }

  /** Reads the roles kept from an earlier boot (none on a fresh node). */
  async load(): Promise<void> {
    await this.#record.load();
  }

  /**
   * Records `roles` and lets the services follow. Refuses what this node cannot do; a role that
   * is accepted but not run comes back as a notice.
   */
  async apply(requested: readonly string[], options: ApplyOptions = {}): Promise<RoleNotice[]> {
    const { initialCluster, validateOnly = false } = options;
    const roles = validRoles(requested);
    const { binaries, holdsCa } = this.#deps;
    const has = (role: Role): boolean => roles.includes(role);
    if (has('KubernetesController') && !has('ConsensusMember')) {
      throw new AgentError(
        'AGENT_INVALID_ARGUMENT',
        'KubernetesController requires ConsensusMember: kube-apiserver uses the etcd member on its node',
      );
    }
    if (holdsCa && !(has('ConsensusMember') && has('KubernetesController'))) {
      throw new AgentError(
        'AGENT_ROLE_REFUSED',
        'this node holds the cluster CA and serves node registration: it keeps ConsensusMember and KubernetesController (moving the CA is not built yet)',
      );
    }
    if (has('ConsensusMember') && binaries.etcd === undefined) {
      throw new AgentError('AGENT_ROLE_REFUSED', 'this node has no etcd binary (--etcd)');
    }
    if (has('KubernetesController') && binaries.kubeApiserver === undefined) {
      throw new AgentError(
        'AGENT_ROLE_REFUSED',
        'this node has no kube-apiserver binary (--kube-apiserver)',
      );
    }
    let consensus = this.#record.config.consensus;
    if (!has('ConsensusMember')) {
      consensus = undefined;
    } else if (consensus === undefined && !validateOnly) {
      if (initialCluster === undefined || initialCluster === '') {
        throw new AgentError(
          'AGENT_INVALID_ARGUMENT',
          'adding ConsensusMember needs the initial cluster (ApplyRolesRequest.consensus) from the operator that added this node as an etcd learner',
        );
      }
      consensus = { initialCluster, state: 'existing' };
    }
    if (
      !validateOnly &&
      this.#record.config.roles.includes('ConsensusMember') &&
      !has('ConsensusMember')
    ) {
      await this.#refuseWhileMember();
    }
    if (!validateOnly) {
      await this.#save(consensus === undefined ? { roles } : { roles, consensus });
      this.#deps.log.info('roles recorded', { roles });
    }
    return roles.flatMap((role) => {
      const message = notBuilt[role];
      return message === undefined ? [] : [{ role, message }];
    });
  }

  /**
   * Dropping ConsensusMember removes the etcd data: refused while the member still counts in
   * the cluster, whoever asks. The operator removes the member first (docs/cluster.md).
   */
  async #refuseWhileMember(): Promise<void> {
    const services = await this.#loadServices();
    if (await services.inConsensus(this.#record.config.consensus)) {
      throw new AgentError(
        'AGENT_STILL_CONSENSUS_MEMBER',
        "this node's etcd member is still in the cluster's member list: remove the member first (the operator does, when ConsensusMember leaves the node's spec.roles); its etcd data is kept",
      );
    }
  }

  /** Records the roles of a node that founds a new cluster (the etcd member starts it). */
  async found(roles: readonly Role[]): Promise<void> {
    const peer = `https://${this.#deps.address}:${String(controlPlanePorts.etcdPeer)}`;
    await this.#save({
      roles,
      consensus: { initialCluster: `${this.#deps.nodeId}=${peer}`, state: 'new' },
    });
  }

  /** The roles recorded for this node (running or not). */
  get recorded(): readonly Role[] {
    return this.#record.config.roles;
  }

  /** Resolves once `role` runs; rejects when `signal` aborts first. */
  async whenRunning(role: Role, signal: AbortSignal): Promise<void> {
    if (this.running.includes(role)) return;
    await this.#running
      .until((running) => running.includes(role), signal)
      .catch(() => {
        throw new AgentError(
          'AGENT_CONTROL_PLANE',
          `${role} did not start serving in time; see the logs in data/control-plane`,
          { cause: signal.reason },
        );
      });
  }

  /**
   * Converges services to the recorded roles and probes them, until `signal` aborts. Each
   * service runs as a subtree of `tree`.
   */
  async run(signal: AbortSignal, tree: Supervisor): Promise<void> {
    const { log } = this.#deps;
    this.#tree = tree;
    try {
      while (!signal.aborted) {
        const kicks = this.#kicks.get();
        try {
          await this.#converge();
        } catch (error) {
          log.warn('roles not converged yet', { error: errorMessage(error) });
        }
        await this.#probe();
        await this.#rest(kicks, signal);
      }
    } finally {
      await this.#healthReport;
      await this.#services?.stopAll();
    }
  }

  /** Waits a probe period, or less if kicked since `kicks` was read, or until `signal` aborts. */
  async #rest(kicks: number, signal: AbortSignal): Promise<void> {
    const rest = new AbortController();
    const stop = (): void => {
      rest.abort();
    };
    signal.addEventListener('abort', stop, { once: true });
    await Promise.race([
      this.#kicks.until((kick) => kick !== kicks, rest.signal).catch(() => undefined),
      sleep(this.#awaitingService() ? awaitingProbeMs : this.#probeMs, rest.signal),
    ]);
    rest.abort();
    signal.removeEventListener('abort', stop);
  }

  #kick(): void {
    this.#awaitUntilMs = Date.now() + awaitWindowMs;
    this.#kicks.set(this.#kicks.get() + 1);
  }

  get #probeMs(): number {
    return this.#deps.probeMs ?? 1000;
  }

  /**
   * Whether a recorded role waits for its service to serve, shortly after a change: etcd and
   * kube-apiserver tell that only when asked, so they are asked often until then.
   */
  #awaitingService(): boolean {
    if (Date.now() >= this.#awaitUntilMs) return false;
    const served = this.#record.config.roles.filter((role) => notBuilt[role] === undefined);
    return served.join(',') !== this.running.join(',');
  }

  /** Records `config` and starts a pass at once. */
  async #save(config: RoleConfig): Promise<void> {
    await this.#record.save(config);
    this.#kick();
  }

  /**
   * The role services, loaded with their code (the control-plane command lines and clients)
   * the first time a recorded role has services: a node without such roles never loads them.
   * Only {@link run} converges, so the supervisor is set.
   */
  async #loadServices(): Promise<RoleServices> {
    if (this.#services !== undefined) return this.#services;
    const tree = this.#tree;
    if (tree === undefined) throw new Error('role services start only while running');
    const { RoleServices } = await import('./role-services.js');
    this.#services ??= new RoleServices({
      ...this.#deps,
      apiserverUrl: this.apiserverUrl,
      supervisor: tree,
      onStateChange: () => {
        this.#kick();
      },
    });
    return this.#services;
  }

  /** One step towards the recorded roles; the next pass takes the next step. */
  async #converge(): Promise<void> {
    const { roles, consensus } = this.#record.config;
    const withServices = roles.some((role) => roleServices[role].length > 0);
    if (!withServices && this.#services === undefined) return;
    const services = await this.#loadServices();
    const wantEtcd = roles.includes('ConsensusMember');
    const wantController = roles.includes('KubernetesController');
    // The operator removed a leaving etcd member from the cluster before it applied the
    // roles, so etcd and the controller stop side by side.
    const stopController = async (): Promise<void> => {
      await services.stopController(!wantEtcd);
      this.#apiserverReady = false;
      this.#operatorPrepared = false;
    };
    const stopEtcd = async (): Promise<void> => {
      await services.stopEtcd();
      this.#etcdVoting = false;
    };
    const controllerRuns = services.has('operator') || services.has('kube-apiserver');
    await Promise.all([
      !wantController && controllerRuns ? stopController() : undefined,
      !wantEtcd && services.has('etcd') ? stopEtcd() : undefined,
    ]);
    if (wantEtcd && !services.has('etcd') && consensus !== undefined) {
      await services.startEtcd(consensus);
    }
    // kube-apiserver talks to the local member only: wait until it votes.
    if (wantController && !services.has('kube-apiserver') && this.#etcdVoting) {
      await services.startApiserver();
    }
    if (wantController && this.#apiserverReady && !this.#operatorPrepared) {
      await this.#deps.beforeOperator?.(this.apiserverUrl);
      this.#operatorPrepared = true;
      if (this.#deps.binaries.operator === undefined) {
        this.#deps.log.warn(
          'no operator in this system image: MonogonNode resources are not reconciled',
        );
      }
    }
    if (
      wantController &&
      this.#operatorPrepared &&
      !services.has('operator') &&
      services.has('kube-apiserver')
    ) {
      await services.startOperator();
    }
  }

  /** Looks at what serves, reports a change of the running roles and the services' health. */
  async #probe(): Promise<void> {
    const services = this.#services;
    const voting = (await services?.voting()) ?? false;
    const readyText = await services?.readyz();
    const ready = readyText === 'ok';
    // A service became ready: take the next step at once rather than after a probe period.
    if ((voting && !this.#etcdVoting) || (ready && !this.#apiserverReady)) this.#kick();
    this.#etcdVoting = voting;
    this.#apiserverReady = ready;
    const running: Role[] = [];
    if (voting) running.push('ConsensusMember');
    if (
      ready &&
      this.#operatorPrepared &&
      (services?.has('operator') === true || this.#deps.binaries.operator === undefined)
    ) {
      running.push('KubernetesController');
    }
    const changed = running.join(',') !== this.running.join(',');
    // Frequent probes while a role waits to serve report health at the usual pace only, and
    // beside the probe: a service that does not answer yet holds a health check up for seconds.
    const due =
      changed ||
      this.#kicks.get() !== this.#healthKicks ||
      Date.now() - this.#healthAtMs >= this.#probeMs;
    if (due && this.#healthReport === undefined) {
      this.#healthAtMs = Date.now();
      this.#healthKicks = this.#kicks.get();
      this.#healthReport = this.#reportHealth(readyText)
        .catch((error: unknown) => {
          this.#deps.log.warn('role health not reported', { error: errorMessage(error) });
        })
        .finally(() => {
          this.#healthReport = undefined;
        });
    }
    if (changed) {
      this.#running.set(running);
      this.#deps.log.info('running roles changed', { roles: running });
      this.#deps.onChanged();
    }
  }

  async #reportHealth(readyText: string | undefined): Promise<void> {
    const roles = sortRoles(this.#record.config.roles);
    this.#deps.reportHealth((await this.#services?.checks(roles, readyText)) ?? []);
  }
}

// The roles this node runs: the owner's choice as applied by the operator, kept on the data
// partition, turned into services (etcd; kube-apiserver and the operator) and reported running
// only once they serve: a consensus member once it is a voting etcd member, a controller once
// its kube-apiserver is ready and its operator runs. KubernetesWorker is recorded, not run.
// Each service of a recorded role is also a health check: up, and answering its own endpoint.
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  controlPlanePorts,
  monogonNodeRoles,
  operatorArgs,
  roleNamed,
  roleServices,
  sortRoles,
  type MonogonNodeRole,
  type RoleNotice,
  type NodeLayout,
} from '@metropolis/api';
import {
  EtcdCluster,
  etcdArgs,
  kubeApiserverArgs,
  kubeconfig,
  readyz,
} from '@metropolis/control-plane';
import { errorMessage } from '@metropolis/errors';
import { Value } from '@metropolis/event';
import type { Logger } from '@metropolis/logging';
import { sleep, type Supervisor } from '@metropolis/supervisor';
import { AgentError } from '../errors.js';
import type { CheckResult } from '../health/health-book.js';
import { serviceRange } from './cluster-pki.js';
import type { RoleCredentialSource } from './role-credentials.js';
import { RoleFiles } from './role-files.js';
import { RoleService, type ServiceState } from './role-service.js';

export type Role = MonogonNodeRole;

export interface ApplyOptions {
  /** etcd's initial cluster, when ConsensusMember is added. */
  readonly initialCluster?: string | undefined;
  /** Check only; record nothing. */
  readonly validateOnly?: boolean;
}

/** What is kept in data/roles.json. */
export interface RoleConfig {
  readonly roles: readonly Role[];
  /** How etcd first starts when its data directory is empty. */
  readonly consensus?: { readonly initialCluster: string; readonly state: 'new' | 'existing' };
}

export interface RoleBinaries {
  readonly etcd: string | undefined;
  readonly kubeApiserver: string | undefined;
  /** The operator program (an ES module run by node); undefined if this image has none. */
  readonly operator: string | undefined;
}

export interface NodeRolesDeps {
  readonly layout: NodeLayout;
  readonly nodeId: string;
  readonly address: string;
  readonly binaries: RoleBinaries;
  /** Flags the running release adds to kube-apiserver's command line. */
  readonly kubeApiserverArgs: readonly string[];
  readonly credentials: RoleCredentialSource;
  /** This node holds the cluster CA and serves registration: it keeps its control plane. */
  readonly holdsCa: boolean;
  /** Runs once per boot after kube-apiserver is first ready and before the operator starts. */
  readonly beforeOperator?: (apiserverUrl: string) => Promise<void>;
  readonly heartbeatTimeoutSeconds: number;
  readonly log: Logger;
  /** Called when the set of running roles changed. */
  readonly onChanged: () => void;
  /** Receives the health checks of the recorded roles' services after every probe. */
  readonly reportHealth: (checks: readonly CheckResult[]) => void;
  /** How often the services are probed. @default 1000 */
  readonly probeMs?: number;
}

interface Services {
  etcd?: {
    readonly service: RoleService;
    readonly client: EtcdCluster;
    /** When a member joining with an empty data directory started; cleared once it serves. */
    joiningSinceMs: number | undefined;
  };
  apiserver?: RoleService;
  operator?: RoleService;
}

/**
 * The grace of etcd and kube-apiserver when the local member left the cluster: their graceful
 * shutdown needs the cluster (see #stopController, #stopEtcd).
 */
const leavingGraceMs = 500;

/** How long a joining etcd learner may take to serve clients before it is restarted once. */
const unpublishedRestartMs = 800;

/** The probe period while a role waits for its service, for at most {@link awaitWindowMs}. */
const awaitingProbeMs = 100;
const awaitWindowMs = 30_000;

const notBuilt: Partial<Record<Role, string>> = {
  KubernetesWorker:
    'KubernetesWorker is not built yet: the role is recorded, but this node runs no kubelet',
};

export class NodeRoles {
  readonly #deps: NodeRolesDeps;
  readonly #files: RoleFiles;
  #config: RoleConfig = { roles: [] };
  #services: Services = {};
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
  /** Whether a joining etcd member was restarted once already (see #restartIfUnpublished). */
  #joinRestarted = false;
  /** Where the role services run as subtrees; set by {@link run}. */
  #tree: Supervisor | undefined;

  constructor(deps: NodeRolesDeps) {
    this.#deps = deps;
    this.#files = new RoleFiles(deps.layout);
  }

  /** Roles whose services serve right now. */
  get running(): readonly Role[] {
    return this.#running.get();
  }

  get apiserverUrl(): string {
    return `https://${this.#deps.address}:${String(controlPlanePorts.kubeApiserver)}`;
  }

  get #configPath(): string {
    return this.#deps.layout.roleConfig;
  }

  /** Reads the roles kept from an earlier boot (none on a fresh node). */
  async load(): Promise<void> {
    const text = await readFile(this.#configPath, 'utf8').catch(() => undefined);
    if (text === undefined) return;
    const parsed: unknown = JSON.parse(text);
    this.#config = parseRoleConfig(parsed);
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
    let consensus = this.#config.consensus;
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
    if (!validateOnly) {
      await this.#save(consensus === undefined ? { roles } : { roles, consensus });
      this.#deps.log.info('roles recorded', { roles });
      this.#kick();
    }
    return roles.flatMap((role) => {
      const message = notBuilt[role];
      return message === undefined ? [] : [{ role, message }];
    });
  }

  /** Records the roles of a node that founds a new cluster (the etcd member starts it). */
  async found(roles: readonly Role[]): Promise<void> {
    const peer = `https://${this.#deps.address}:${String(controlPlanePorts.etcdPeer)}`;
    await this.#save({
      roles,
      consensus: { initialCluster: `${this.#deps.nodeId}=${peer}`, state: 'new' },
    });
    this.#kick();
  }

  /** The roles recorded for this node (running or not). */
  get recorded(): readonly Role[] {
    return this.#config.roles;
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
      await this.#stopAll();
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
    const served = this.#config.roles.filter((role) => notBuilt[role] === undefined);
    return served.join(',') !== this.running.join(',');
  }

  /** The supervisor the role services run under; only {@link run} converges, so it is set. */
  get #supervisor(): Supervisor {
    if (this.#tree === undefined) throw new Error('role services start only while running');
    return this.#tree;
  }

  async #save(config: RoleConfig): Promise<void> {
    const path = this.#configPath;
    await mkdir(dirname(path), { recursive: true });
    await writeFile(`${path}.tmp`, `${JSON.stringify(config, null, 2)}\n`, { flush: true });
    await rename(`${path}.tmp`, path);
    this.#config = config;
  }

  /** One step towards the recorded roles; the next pass takes the next step. */
  async #converge(): Promise<void> {
    const { roles, consensus } = this.#config;
    const wantEtcd = roles.includes('ConsensusMember');
    const wantController = roles.includes('KubernetesController');
    const services = this.#services;
    // The operator removed a leaving etcd member from the cluster before it applied the
    // roles, so etcd and the controller stop side by side.
    await Promise.all([
      wantController ? undefined : this.#stopController(!wantEtcd),
      wantEtcd ? undefined : this.#stopEtcd(),
    ]);
    if (wantEtcd && services.etcd === undefined && consensus !== undefined) {
      await this.#startEtcd(consensus);
    }
    // kube-apiserver talks to the local member only: wait until it votes.
    if (wantController && services.apiserver === undefined && this.#etcdVoting) {
      await this.#startApiserver();
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
      services.operator === undefined &&
      services.apiserver !== undefined
    ) {
      await this.#startOperator();
    }
  }

  async #startEtcd(consensus: NonNullable<RoleConfig['consensus']>) {
    const { layout, nodeId, address, binaries, log } = this.#deps;
    if (binaries.etcd === undefined) return;
    if (!(await this.#files.has('ConsensusMember'))) {
      await this.#files.write(await this.#deps.credentials(['ConsensusMember']));
    }
    await mkdir(layout.controlPlaneRun, { recursive: true });
    await mkdir(layout.etcdData, { recursive: true, mode: 0o700 });
    const joining =
      consensus.state === 'existing' &&
      !this.#joinRestarted &&
      (await readdir(layout.etcdData)).length === 0;
    const local = `https://127.0.0.1:${String(controlPlanePorts.etcdClient)}`;
    const client = `https://${address}:${String(controlPlanePorts.etcdClient)}`;
    const peer = `https://${address}:${String(controlPlanePorts.etcdPeer)}`;
    const tls = this.#files.etcd;
    const service = RoleService.start(
      {
        name: 'etcd',
        command: binaries.etcd,
        args: etcdArgs({
          name: nodeId,
          dataDir: layout.etcdData,
          clientUrls: [client, local],
          advertiseClientUrls: [client],
          peerUrls: [peer],
          advertisePeerUrls: [peer],
          initialCluster: consensus.initialCluster,
          initialClusterState: consensus.state,
          tls,
        }),
        logDir: layout.controlPlaneRun,
        onStateChange: () => {
          this.#kick();
        },
      },
      this.#supervisor,
      log,
    );
    const [caPem, certificatePem, keyPem] = await Promise.all([
      readFile(tls.ca, 'utf8'),
      readFile(tls.cert, 'utf8'),
      readFile(tls.key, 'utf8'),
    ]);
    this.#services.etcd = {
      service,
      client: new EtcdCluster(local, { caPem, certificatePem, keyPem }, 2000),
      joiningSinceMs: joining ? Date.now() : undefined,
    };
  }

  async #stopEtcd(): Promise<void> {
    const etcd = this.#services.etcd;
    if (etcd === undefined) return;
    // The member was removed from the cluster: it stops itself, and its data (removed next)
    // can never be used again, so its graceful shutdown protects nothing.
    await etcd.service.stop(leavingGraceMs);
    delete this.#services.etcd;
    this.#etcdVoting = false;
    await rm(this.#deps.layout.etcdData, { recursive: true, force: true });
    await this.#files.removeEtcd();
    this.#deps.log.info('etcd stopped and its data removed');
  }

  /**
   * Stops the operator (while kube-apiserver still serves its lease release), then
   * kube-apiserver. `etcdLeaving`: the local member is already out of the cluster, so
   * kube-apiserver's graceful shutdown (finish requests, drop its endpoint lease) cannot reach
   * storage and only waits for the kill: it gets a short grace. No load balancer drains it
   * either; its endpoint lease expires on its own.
   */
  async #stopController(etcdLeaving: boolean): Promise<void> {
    const services = this.#services;
    if (services.operator === undefined && services.apiserver === undefined) return;
    await services.operator?.stop();
    delete services.operator;
    await services.apiserver?.stop(etcdLeaving ? leavingGraceMs : undefined);
    delete services.apiserver;
    this.#apiserverReady = false;
    this.#operatorPrepared = false;
  }

  async #startApiserver(): Promise<void> {
    const { layout, address, binaries, log } = this.#deps;
    if (binaries.kubeApiserver === undefined) return;
    if (!(await this.#files.has('KubernetesController'))) {
      await this.#files.write(await this.#deps.credentials(['KubernetesController']));
    }
    const files = this.#files;
    this.#services.apiserver = RoleService.start(
      {
        name: 'kube-apiserver',
        command: binaries.kubeApiserver,
        args: kubeApiserverArgs({
          etcdServers: [`https://127.0.0.1:${String(controlPlanePorts.etcdClient)}`],
          etcdTls: files.apiserverEtcdClient,
          bindAddress: '0.0.0.0',
          advertiseAddress: address,
          securePort: controlPlanePorts.kubeApiserver,
          certDir: join(layout.controlPlaneRun, 'apiserver-certs'),
          servingTls: files.apiserver,
          serviceClusterIpRange: serviceRange,
          serviceAccountIssuer: 'https://kubernetes.default.svc',
          serviceAccountPublicKey: files.serviceAccount.publicKey,
          serviceAccountSigningKey: files.serviceAccount.key,
          // No controller-manager runs to create service accounts, so the plugin would refuse pods.
          disableAdmissionPlugins: ['ServiceAccount'],
        }).concat(this.#deps.kubeApiserverArgs),
        logDir: layout.controlPlaneRun,
        onStateChange: () => {
          this.#kick();
        },
      },
      this.#supervisor,
      log,
    );
  }

  async #startOperator(): Promise<void> {
    const { layout, binaries, nodeId, log, heartbeatTimeoutSeconds } = this.#deps;
    if (binaries.operator === undefined) return;
    const files = this.#files;
    const credentials = await this.#operatorCredentials();
    await writeFile(
      files.operatorKubeconfig,
      kubeconfig(
        `https://127.0.0.1:${String(controlPlanePorts.kubeApiserver)}`,
        credentials,
        'metropolis',
      ),
      { mode: 0o600 },
    );
    this.#services.operator = RoleService.start(
      {
        name: 'operator',
        command: process.execPath,
        args: [
          binaries.operator,
          ...operatorArgs({
            kubeconfig: files.operatorKubeconfig,
            tls: { ca: files.ca, cert: files.operator.cert, key: files.operator.key },
            etcd: {
              endpoint: `https://127.0.0.1:${String(controlPlanePorts.etcdClient)}`,
              cert: files.etcd.cert,
              key: files.etcd.key,
            },
            identity: nodeId,
            heartbeatTimeout: `${String(heartbeatTimeoutSeconds)}s`,
          }),
        ],
        logDir: layout.controlPlaneRun,
        onStateChange: () => {
          this.#kick();
        },
      },
      this.#supervisor,
      log,
    );
  }

  async #operatorCredentials() {
    const files = this.#files;
    const [caPem, certificatePem, keyPem] = await Promise.all([
      readFile(files.ca, 'utf8'),
      readFile(files.operator.cert, 'utf8'),
      readFile(files.operator.key, 'utf8'),
    ]);
    return { caPem, certificatePem, keyPem };
  }

  /** Looks at what serves, reports a change of the running roles and the services' health. */
  async #probe(): Promise<void> {
    const { etcd, apiserver, operator } = this.#services;
    const answer = etcd === undefined ? undefined : await this.#voting(etcd.client);
    await this.#restartIfUnpublished(answer);
    const voting = answer === true;
    const readyText =
      apiserver === undefined
        ? undefined
        : await readyz(this.apiserverUrl, await this.#operatorCredentials()).catch(
            (error: unknown) => errorMessage(error),
          );
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
      (operator !== undefined || this.#deps.binaries.operator === undefined)
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

  /**
   * One check per service of each recorded role (lib/api's role table names them): it runs and
   * answers its own health endpoint.
   */
  async #reportHealth(readyText: string | undefined): Promise<void> {
    const { etcd, apiserver, operator } = this.#services;
    const probes: Record<string, () => Promise<CheckResult>> = {
      etcd: () =>
        serviceCheck('etcd', etcd?.service.state, 'waiting for its credentials', async () => {
          await etcd?.client.health();
          return 'serves quorum reads';
        }),
      'kube-apiserver': () =>
        serviceCheck(
          'kube-apiserver',
          apiserver?.state,
          'it starts once the local etcd member votes',
          () =>
            readyText === 'ok'
              ? Promise.resolve('/readyz ok')
              : Promise.reject(new Error(`/readyz: ${readyFailures(readyText ?? '')}`)),
        ),
      operator: () =>
        this.#deps.binaries.operator === undefined
          ? Promise.resolve({
              name: 'operator',
              ok: false,
              message: 'this system image has no operator',
            })
          : serviceCheck(
              'operator',
              operator?.state,
              'it starts once kube-apiserver is ready',
              async () => {
                await operatorHealthz();
                return '/healthz ok';
              },
            ),
    };
    const checks: CheckResult[] = [];
    for (const role of sortRoles(this.#config.roles)) {
      for (const service of roleServices[role]) {
        const probe = probes[service];
        checks.push(
          probe === undefined
            ? { name: service, ok: false, message: 'the agent has no health probe for it' }
            : await probe(),
        );
      }
    }
    this.#deps.reportHealth(checks);
  }

  /**
   * Whether the local member votes, by its own view (a learner cannot serve a linearizable
   * list); undefined while it does not answer. A short timeout: a member that does not serve
   * clients yet accepts the connection and never answers.
   */
  async #voting(client: EtcdCluster): Promise<boolean | undefined> {
    try {
      return !(await client.at(client.endpoint, 250).status()).isLearner;
    } catch {
      return undefined;
    }
  }

  /**
   * A joining member serves clients only once its request to publish its name through raft
   * returned. etcd sends a new member the leader's snapshot, and applying it can lose that
   * request's answer (the entry commits, but arrives inside the snapshot); etcd asks again
   * only after its request timeout (7 s). Restarted, the member has the snapshot and its peers
   * from the start, and publishes at once. The operator promotes a learner only once it serves
   * clients, and the member is restarted only if another member confirms it is still a
   * learner: the restart never costs quorum.
   */
  async #restartIfUnpublished(voting: boolean | undefined): Promise<void> {
    const etcd = this.#services.etcd;
    if (etcd?.joiningSinceMs === undefined) return;
    if (voting !== undefined) {
      etcd.joiningSinceMs = undefined;
      return;
    }
    if (Date.now() - etcd.joiningSinceMs < unpublishedRestartMs) return;
    if (!(await this.#stillLearner(etcd.client))) {
      etcd.joiningSinceMs = undefined;
      return;
    }
    this.#deps.log.warn('the joining etcd member does not serve yet: restarting it once');
    this.#joinRestarted = true;
    await etcd.service.stop();
    delete this.#services.etcd;
    this.#kick();
  }

  /**
   * Whether another member's (linearizable) list shows this node's member as a learner. False
   * when no other member answers: no restart without that certainty.
   */
  async #stillLearner(client: EtcdCluster): Promise<boolean> {
    const self = `https://${this.#deps.address}:${String(controlPlanePorts.etcdPeer)}`;
    const others = (this.#config.consensus?.initialCluster ?? '')
      .split(',')
      .map((entry) => entry.slice(entry.indexOf('=') + 1))
      .filter((peer) => peer !== '' && peer !== self);
    for (const peer of others) {
      const host = URL.canParse(peer) ? new URL(peer).hostname : '';
      const endpoint = `https://${host}:${String(controlPlanePorts.etcdClient)}`;
      try {
        const members = await client.at(endpoint, 1_000).memberList(true);
        const member = members.find((candidate) => candidate.peerUrls.includes(self));
        return member?.isLearner === true;
      } catch (error) {
        this.#deps.log.warn('could not ask another etcd member about this one', {
          endpoint,
          error: errorMessage(error),
        });
      }
    }
    return false;
  }

  async #stopAll(): Promise<void> {
    await this.#healthReport;
    const { etcd, apiserver, operator } = this.#services;
    await operator?.stop();
    await apiserver?.stop();
    await etcd?.service.stop();
    this.#services = {};
  }
}

/**
 * A service's check: failing while it is not started or not running (with why), else whatever
 * `probe` finds; `probe` resolves to the passing message or rejects with the failure.
 */
async function serviceCheck(
  name: string,
  state: ServiceState | undefined,
  notStarted: string,
  probe: () => Promise<string>,
): Promise<CheckResult> {
  if (state === undefined) return { name, ok: false, message: `not started: ${notStarted}` };
  if (!state.running) return { name, ok: false, message: `not running: ${state.why}` };
  try {
    return { name, ok: true, message: `running (pid ${String(state.pid)}), ${await probe()}` };
  } catch (error) {
    return {
      name,
      ok: false,
      message: `running (pid ${String(state.pid)}), but ${errorMessage(error)}`,
    };
  }
}

/** The failing lines of a verbose /readyz answer (`[-]etcd failed: …`), or the answer itself. */
function readyFailures(text: string): string {
  const failing = text
    .split('\n')
    .filter((line) => line.startsWith('[-]'))
    .map((line) => line.slice(3));
  return failing.length > 0 ? failing.join(', ') : text === '' ? 'no answer' : text;
}

/** The operator's liveness endpoint, beside its metrics on the node's loopback. */
async function operatorHealthz(): Promise<void> {
  const url = `http://127.0.0.1:${String(controlPlanePorts.operatorMetrics)}/healthz`;
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  if (!response.ok) throw new Error(`${url} answered ${String(response.status)}`);
}

function validRoles(requested: readonly string[]): Role[] {
  const roles: Role[] = [];
  for (const role of new Set(requested)) {
    const known = roleNamed(role);
    if (known === undefined) {
      throw new AgentError(
        'AGENT_INVALID_ARGUMENT',
        `unknown role ${JSON.stringify(role)}; known roles: ${monogonNodeRoles.join(', ')}`,
      );
    }
    roles.push(known);
  }
  return sortRoles(roles);
}

function parseRoleConfig(value: unknown): RoleConfig {
  if (typeof value !== 'object' || value === null || !('roles' in value)) {
    throw new AgentError('AGENT_STORAGE', 'roles.json has no roles');
  }
  const roles = Array.isArray(value.roles) ? validRoles(value.roles.map(String)) : [];
  if (!('consensus' in value) || typeof value.consensus !== 'object' || value.consensus === null) {
    return { roles };
  }
  const consensus = value.consensus;
  const initialCluster =
    'initialCluster' in consensus && typeof consensus.initialCluster === 'string'
      ? consensus.initialCluster
      : '';
  const state = 'state' in consensus && consensus.state === 'new' ? 'new' : 'existing';
  return { roles, consensus: { initialCluster, state } };
}

// The processes of this node's roles: etcd for a consensus member; kube-apiserver and the
// operator for a Kubernetes controller. Each is started with its credentials and command line,
// stopped when its role goes, and asked whether it serves. Nodes that run none never load it.
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  controlPlanePorts,
  etcdPeerHostname,
  operatorArgs,
  operatorEnvironment,
  operatorNodeFlags,
  roleServices,
  type CheckConsensusResponse as ConsensusCheck,
  type NodeLayout,
} from '@metropolis/api';
import {
  EtcdCluster,
  etcdArgs,
  etcdPeerMembers,
  healthOnlyAnonymousAuthentication,
  kubeApiserverArgs,
  kubeconfig,
  metadataAuditPolicy,
  readyz,
  type KubeApiserverOptions,
} from '@metropolis/control-plane';
import { errorMessage } from '@metropolis/errors';
import type { Logger } from '@metropolis/logging';
import type { Supervisor } from '@metropolis/supervisor';
import { AgentError } from '../errors.js';
import type { CheckResult } from '../health/health-book.js';
import { operatorHealthz, readyFailures, serviceCheck } from './role-checks.js';
import type { RoleCredentialSource } from './role-credentials.js';
import { RoleFiles } from './role-files.js';
import type { ConsensusStart, Role } from './role-record.js';
import { RoleService } from './role-service.js';
import { serviceRange } from './service-network.js';

export interface RoleBinaries {
  readonly etcd: string | undefined;
  readonly kubeApiserver: string | undefined;
  /** The operator program (an ES module run by node); undefined if this image has none. */
  readonly operator: string | undefined;
}

export interface RoleServicesDeps {
  readonly layout: NodeLayout;
  readonly nodeId: string;
  readonly address: string;
  readonly binaries: RoleBinaries;
  /** Flags the running release adds to kube-apiserver's command line. */
  readonly kubeApiserverArgs: readonly string[];
  readonly credentials: RoleCredentialSource;
  /** The revocation list of the CA at this path, for etcd; on disk once it resolves. */
  readonly etcdRevocationList: (etcdCa: string) => Promise<string>;
  readonly heartbeatTimeoutSeconds: number;
  /** This node's kube-apiserver, as /readyz is asked. */
  readonly apiserverUrl: string;
  /** Where the services run, each as a subtree. */
  readonly supervisor: Supervisor;
  readonly log: Logger;
  /** Called when a service started or exited. */
  readonly onStateChange: () => void;
}

export type RoleServiceName = 'etcd' | 'kube-apiserver' | 'operator';

const localEtcd = `https://127.0.0.1:${String(controlPlanePorts.etcdClient)}`;

/**
 * The grace of etcd and kube-apiserver when the local member left the cluster: their graceful
 * shutdown needs the cluster (see {@link RoleServices.stopController}, {@link RoleServices.stopEtcd}).
 */
const leavingGraceMs = 500;

/** How long a joining etcd learner may take to serve clients before it is restarted once. */
const unpublishedRestartMs = 800;

interface EtcdService {
  readonly service: RoleService;
  readonly client: EtcdCluster;
  readonly consensus: ConsensusStart;
  /** When a member joining with an empty data directory started; cleared once it serves. */
  joiningSinceMs: number | undefined;
}

export class RoleServices {
  readonly #deps: RoleServicesDeps;
  readonly #files: RoleFiles;
  #etcd: EtcdService | undefined;
  /** Whether a joining etcd member was restarted once already (see #restartIfUnpublished). */
  #joinRestarted = false;
  #apiserver: RoleService | undefined;
  #operator: RoleService | undefined;

  constructor(deps: RoleServicesDeps) {
    this.#deps = deps;
    this.#files = new RoleFiles(deps.layout);
  }

  /** Whether `service` was started (and not stopped since); it may be restarting. */
  has(service: RoleServiceName): boolean {
    return this.#service(service) !== undefined;
  }

  async startEtcd(consensus: ConsensusStart): Promise<void> {
    const { layout, nodeId, address, binaries } = this.#deps;
    if (binaries.etcd === undefined) return;
    await this.#files.ensure('ConsensusMember', this.#deps.credentials);
    await mkdir(layout.controlPlaneRun, { recursive: true });
    await mkdir(layout.etcdData, { recursive: true, mode: 0o700 });
    const joining =
      consensus.state === 'existing' &&
      !this.#joinRestarted &&
      (await readdir(layout.etcdData)).length === 0;
    const peer = `https://${address}:${String(controlPlanePorts.etcdPeer)}`;
    const tls = this.#files.etcd;
    const service = this.#start(
      'etcd',
      binaries.etcd,
      etcdArgs({
        name: nodeId,
        dataDir: layout.etcdData,
        // Clients on this node only: kube-apiserver, this agent and the operator. Nothing
        // outside the node's network namespace reaches the client API.
        clientUrls: [localEtcd],
        advertiseClientUrls: [localEtcd],
        peerUrls: [peer],
        advertisePeerUrls: [peer],
        initialCluster: consensus.initialCluster,
        initialClusterState: consensus.state,
        tls,
        crlFile: await this.#deps.etcdRevocationList(tls.ca),
        allowedPeerHostname: etcdPeerHostname,
      }),
    );
    const credentials = await this.#files.clientCredentials(tls);
    this.#etcd = {
      service,
      client: new EtcdCluster(localEtcd, credentials, 2000),
      consensus,
      joiningSinceMs: joining ? Date.now() : undefined,
    };
  }

  /**
   * Stops etcd and removes its data and credentials: a removed member's data is never reused.
   * The member was removed from the cluster first: it stops itself, and its graceful shutdown
   * protects nothing, so it gets a short grace.
   */
  async stopEtcd(): Promise<void> {
    const etcd = this.#etcd;
    if (etcd === undefined) return;
    await etcd.service.stop(leavingGraceMs);
    this.#etcd = undefined;
    await rm(this.#deps.layout.etcdData, { recursive: true, force: true });
    await this.#files.removeEtcd();
    this.#deps.log.info('etcd stopped and its data removed');
  }

  /**
   * Whether this node's etcd member is still in the cluster's member list, so its data must not
   * be removed. Asked of the local member (a linearizable list) and, should it not answer (a
   * removed member stops itself), of the other members' peer endpoints with this node's member
   * certificate: their client ports serve their own node only. A node without etcd data has
   * nothing to lose.
   * @throws {AgentError} `AGENT_CONTROL_PLANE` when no member answers.
   */
  async inConsensus(consensus: ConsensusStart | undefined): Promise<boolean> {
    const { layout, nodeId, address } = this.#deps;
    const data = await readdir(layout.etcdData).catch(() => []);
    if (data.length === 0) return false;
    const port = String(controlPlanePorts.etcdPeer);
    const own = new Set([`https://${address}:${port}`, `https://[${address}]:${port}`]);
    const isSelf = (member: { name: string; peerUrls: readonly string[] }): boolean =>
      member.name === nodeId || member.peerUrls.some((url) => own.has(url));
    const failures: string[] = [];
    const credentials = await this.#files
      .clientCredentials(this.#files.etcd)
      .catch((error: unknown) => {
        throw new AgentError(
          'AGENT_CONTROL_PLANE',
          'cannot tell whether this node is still an etcd member: its etcd credentials are missing',
          { cause: error },
        );
      });
    try {
      const local = new EtcdCluster(localEtcd, credentials, 2_000);
      return (await local.memberList(true)).some(isSelf);
    } catch (error) {
      failures.push(`${localEtcd}: ${errorMessage(error)}`);
    }
    // The first member that answers decides: only an applied removal takes a member out of a
    // list, while a lagging member may still list a removed one (a refusal, retried later).
    const peers = (consensus?.initialCluster ?? '')
      .split(',')
      .map((entry) => entry.slice(entry.indexOf('=') + 1))
      .filter((peer) => peer !== '' && !own.has(peer));
    for (const peer of peers) {
      try {
        return (await etcdPeerMembers(peer, credentials, 2_000)).some(isSelf);
      } catch (error) {
        failures.push(`${peer}: ${errorMessage(error)}`);
      }
    }
    throw new AgentError(
      'AGENT_CONTROL_PLANE',
      `cannot tell whether this node is still an etcd member: no member answered (${failures.join('; ')})`,
    );
  }

  async startApiserver(): Promise<void> {
    const { layout, address, binaries } = this.#deps;
    if (binaries.kubeApiserver === undefined) return;
    await this.#files.ensure('KubernetesController', this.#deps.credentials);
    const files = this.#files;
    const access = await this.#writeApiserverAccessFiles();
    this.#apiserver = this.#start(
      'kube-apiserver',
      binaries.kubeApiserver,
      kubeApiserverArgs({
        etcdServers: [localEtcd],
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
        encryptionConfig: files.encryptionConfig,
        // No controller-manager runs to create service accounts, so the plugin would refuse pods.
        disableAdmissionPlugins: ['ServiceAccount'],
        ...access,
      }).concat(this.#deps.kubeApiserverArgs),
    );
  }

  /**
   * kube-apiserver's authentication configuration (anonymous only on health endpoints) and its
   * audit policy, written beside its logs; the audit log stays on the node, rotated.
   */
  async #writeApiserverAccessFiles(): Promise<
    Required<Pick<KubeApiserverOptions, 'authenticationConfig' | 'audit'>>
  > {
    const dir = this.#deps.layout.controlPlaneRun;
    const authenticationConfig = join(dir, 'apiserver-authentication.yaml');
    const policyFile = join(dir, 'audit-policy.yaml');
    await mkdir(dir, { recursive: true });
    await writeFile(authenticationConfig, healthOnlyAnonymousAuthentication());
    await writeFile(policyFile, metadataAuditPolicy());
    return {
      authenticationConfig,
      audit: { policyFile, logPath: join(dir, 'audit.log'), maxSizeMb: 50, maxBackups: 2 },
    };
  }

  async startOperator(): Promise<void> {
    const { binaries, nodeId, heartbeatTimeoutSeconds } = this.#deps;
    if (binaries.operator === undefined) return;
    const files = this.#files;
    await writeFile(
      files.operatorKubeconfig,
      kubeconfig(
        `https://127.0.0.1:${String(controlPlanePorts.kubeApiserver)}`,
        await files.clientCredentials(files.operator),
        'metropolis',
      ),
      { mode: 0o600 },
    );
    this.#operator = this.#start(
      'operator',
      process.execPath,
      [
        ...operatorNodeFlags,
        binaries.operator,
        ...operatorArgs({
          kubeconfig: files.operatorKubeconfig,
          tls: { ca: files.ca, cert: files.operator.cert, key: files.operator.key },
          etcd: {
            endpoint: localEtcd,
            ca: files.etcd.ca,
            cert: files.etcd.cert,
            key: files.etcd.key,
          },
          identity: nodeId,
          heartbeatTimeout: `${String(heartbeatTimeoutSeconds)}s`,
        }),
      ],
      operatorEnvironment,
    );
  }

  /**
   * Stops the operator (while kube-apiserver still serves its lease release), then
   * kube-apiserver. `etcdLeaving`: the local member is already out of the cluster, so
   * kube-apiserver's graceful shutdown (finish requests, drop its endpoint lease) cannot reach
   * storage and only waits for the kill: it gets a short grace. No load balancer drains it
   * either; its endpoint lease expires on its own.
   */
  async stopController(etcdLeaving: boolean): Promise<void> {
    await this.#operator?.stop();
    this.#operator = undefined;
    await this.#apiserver?.stop(etcdLeaving ? leavingGraceMs : undefined);
    this.#apiserver = undefined;
    // A node that left the role keeps none of its keys (a stolen disk holds no controller).
    await this.#files.removeController();
  }

  /**
   * After the certificates of `role` were renewed on disk: etcd and kube-apiserver read theirs
   * for every new connection, so they go on; this agent's etcd client takes the new ones; the
   * operator, which reads its own at start, is stopped for the roles loop to start it again.
   */
  async credentialsRenewed(role: 'ConsensusMember' | 'KubernetesController'): Promise<void> {
    if (role === 'ConsensusMember' && this.#etcd !== undefined) {
      const credentials = await this.#files.clientCredentials(this.#files.etcd);
      this.#etcd = { ...this.#etcd, client: new EtcdCluster(localEtcd, credentials, 2000) };
    }
    await this.#operator?.stop();
    this.#operator = undefined;
  }

  /** Stops every service, the operator first and etcd last; keeps their data. */
  async stopAll(): Promise<void> {
    await this.#operator?.stop();
    await this.#apiserver?.stop();
    await this.#etcd?.service.stop();
    this.#operator = undefined;
    this.#apiserver = undefined;
    this.#etcd = undefined;
  }

  /**
   * Whether this node's etcd member votes, by its own status (a learner cannot serve a
   * linearizable list). A short timeout: a member that does not serve clients yet accepts the
   * connection and never answers. Restarts a joining member once if it does not serve (see
   * {@link #restartIfUnpublished}).
   */
  async voting(): Promise<boolean> {
    const etcd = this.#etcd;
    if (etcd === undefined) return false;
    const answer = await etcd.client
      .at(etcd.client.endpoint, 250)
      .status()
      .then(
        (status) => !status.isLearner,
        () => undefined,
      );
    await this.#restartIfUnpublished(etcd, answer);
    return answer === true;
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
  async #restartIfUnpublished(etcd: EtcdService, answer: boolean | undefined): Promise<void> {
    if (etcd.joiningSinceMs === undefined) return;
    if (answer !== undefined) {
      etcd.joiningSinceMs = undefined;
      return;
    }
    if (Date.now() - etcd.joiningSinceMs < unpublishedRestartMs) return;
    if (!(await this.#stillLearner(etcd))) {
      etcd.joiningSinceMs = undefined;
      return;
    }
    this.#deps.log.warn('the joining etcd member does not serve yet: restarting it once');
    this.#joinRestarted = true;
    await etcd.service.stop();
    this.#etcd = undefined;
    this.#deps.onStateChange();
  }

  /**
   * Whether the other members that answer (on their peer endpoint, /members: their client APIs
   * are on their own nodes' loopback) all list this node's member as a learner. False when none
   * answers: no restart without that certainty. Their views are their own applied state; the
   * operator promotes a learner only once it serves clients, which this one does not.
   */
  async #stillLearner(etcd: EtcdService): Promise<boolean> {
    const self = `https://${this.#deps.address}:${String(controlPlanePorts.etcdPeer)}`;
    const others = etcd.consensus.initialCluster
      .split(',')
      .map((entry) => entry.slice(entry.indexOf('=') + 1))
      .filter((peer) => peer !== '' && peer !== self);
    const credentials = await this.#files.clientCredentials(this.#files.etcd);
    let answered = false;
    for (const peer of others) {
      try {
        const members = await etcdPeerMembers(peer, credentials, 1_000);
        answered = true;
        const member = members.find((candidate) => candidate.peerUrls.includes(self));
        if (member?.isLearner !== true) return false;
      } catch (error) {
        this.#deps.log.warn('could not ask another etcd member about this one', {
          peer,
          error: errorMessage(error),
        });
      }
    }
    return answered;
  }

  /**
   * Whether the local etcd member serves (its own status, which needs no leader) and serves a
   * quorum read now (see EtcdCluster.health), with etcd's error when not: CheckConsensus.
   */
  async checkConsensus(): Promise<ConsensusCheck> {
    const etcd = this.#etcd;
    if (etcd === undefined) {
      return {
        member: false,
        serves: false,
        learner: false,
        quorate: false,
        error: 'no etcd member runs on this node',
      };
    }
    const client = etcd.client.at(etcd.client.endpoint, 2_000);
    const status = await client.status().then(
      (answer) => ({ serves: true, learner: answer.isLearner, error: '' }),
      (error: unknown) => ({ serves: false, learner: false, error: errorMessage(error) }),
    );
    if (!status.serves) return { member: true, quorate: false, ...status };
    return client.health().then(
      () => ({ member: true, ...status, quorate: true }),
      (error: unknown) => ({ member: true, ...status, quorate: false, error: errorMessage(error) }),
    );
  }

  /** kube-apiserver's /readyz answer (`ok` when ready) or why it failed; undefined if not started. */
  async readyz(): Promise<string | undefined> {
    if (this.#apiserver === undefined) return undefined;
    const credentials = await this.#files.clientCredentials(this.#files.operator);
    return readyz(this.#deps.apiserverUrl, credentials).catch((error: unknown) =>
      errorMessage(error),
    );
  }

  /**
   * One check per service of each of `roles` (lib/api's role table names them): it runs and
   * answers its own health endpoint. `readyText` is the last {@link readyz} answer.
   */
  async checks(roles: readonly Role[], readyText: string | undefined): Promise<CheckResult[]> {
    const etcd = this.#etcd;
    const probes: Record<string, () => Promise<CheckResult>> = {
      etcd: () =>
        serviceCheck('etcd', etcd?.service.state, 'waiting for its credentials', async () => {
          await etcd?.client.health();
          return 'serves quorum reads';
        }),
      'kube-apiserver': () =>
        serviceCheck(
          'kube-apiserver',
          this.#apiserver?.state,
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
              this.#operator?.state,
              'it starts once kube-apiserver is ready',
              async () => {
                await operatorHealthz();
                return '/healthz ok';
              },
            ),
    };
    const checks: CheckResult[] = [];
    for (const role of roles) {
      for (const service of roleServices[role]) {
        const probe = probes[service];
        checks.push(
          probe === undefined
            ? { name: service, ok: false, message: 'the agent has no health probe for it' }
            : await probe(),
        );
      }
    }
    return checks;
  }

  #service(name: RoleServiceName): RoleService | undefined {
    if (name === 'etcd') return this.#etcd?.service;
    return name === 'kube-apiserver' ? this.#apiserver : this.#operator;
  }

  #start(
    name: RoleServiceName,
    command: string,
    args: readonly string[],
    environment?: Readonly<Record<string, string>>,
  ): RoleService {
    return RoleService.start(
      {
        name,
        command,
        args,
        ...(environment === undefined ? {} : { environment }),
        logDir: this.#deps.layout.controlPlaneRun,
        onStateChange: this.#deps.onStateChange,
      },
      this.#deps.supervisor,
      this.#deps.log,
    );
  }
}

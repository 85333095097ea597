// The processes of this node's roles: etcd for a consensus member; kube-apiserver and the
// operator for a Kubernetes controller. Each is started with its credentials and command line,
// stopped when its role goes, and asked whether it serves. Nodes that run none never load it.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { controlPlanePorts, operatorArgs, roleServices, type NodeLayout } from '@metropolis/api';
import {
  EtcdCluster,
  etcdArgs,
  kubeApiserverArgs,
  kubeconfig,
  readyz,
} from '@metropolis/control-plane';
import { errorMessage } from '@metropolis/errors';
import type { Logger } from '@metropolis/logging';
import type { Supervisor } from '@metropolis/supervisor';
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

export class RoleServices {
  readonly #deps: RoleServicesDeps;
  readonly #files: RoleFiles;
  #etcd: { readonly service: RoleService; readonly client: EtcdCluster } | undefined;
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
    const client = `https://${address}:${String(controlPlanePorts.etcdClient)}`;
    const peer = `https://${address}:${String(controlPlanePorts.etcdPeer)}`;
    const tls = this.#files.etcd;
    const service = this.#start(
      'etcd',
      binaries.etcd,
      etcdArgs({
        name: nodeId,
        dataDir: layout.etcdData,
        clientUrls: [client, localEtcd],
        advertiseClientUrls: [client],
        peerUrls: [peer],
        advertisePeerUrls: [peer],
        initialCluster: consensus.initialCluster,
        initialClusterState: consensus.state,
        tls,
      }),
    );
    const credentials = await this.#files.clientCredentials(tls);
    this.#etcd = { service, client: new EtcdCluster(localEtcd, credentials, 2000) };
  }

  /** Stops etcd and removes its data and credentials: a removed member's data is never reused. */
  async stopEtcd(): Promise<void> {
    const etcd = this.#etcd;
    if (etcd === undefined) return;
    await etcd.service.stop();
    this.#etcd = undefined;
    await rm(this.#deps.layout.etcdData, { recursive: true, force: true });
    await this.#files.removeEtcd();
    this.#deps.log.info('etcd stopped and its data removed');
  }

  async startApiserver(): Promise<void> {
    const { layout, address, binaries } = this.#deps;
    if (binaries.kubeApiserver === undefined) return;
    await this.#files.ensure('KubernetesController', this.#deps.credentials);
    const files = this.#files;
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
        // No controller-manager runs to create service accounts, so the plugin would refuse pods.
        disableAdmissionPlugins: ['ServiceAccount'],
      }).concat(this.#deps.kubeApiserverArgs),
    );
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
    this.#operator = this.#start('operator', process.execPath, [
      // V8 otherwise grows the young generation to 32 MiB under the status traffic of a
      // fleet; the operator's live heap is a few MiB of it (docs/operator.md, Memory).
      '--max-semi-space-size=2',
      binaries.operator,
      ...operatorArgs({
        kubeconfig: files.operatorKubeconfig,
        tls: { ca: files.ca, cert: files.operator.cert, key: files.operator.key },
        etcd: { endpoint: localEtcd, cert: files.etcd.cert, key: files.etcd.key },
        identity: nodeId,
        heartbeatTimeout: `${String(heartbeatTimeoutSeconds)}s`,
      }),
    ]);
  }

  /** Stops kube-apiserver or the operator, if it was started. */
  async stop(service: 'kube-apiserver' | 'operator'): Promise<void> {
    await this.#service(service)?.stop();
    if (service === 'kube-apiserver') this.#apiserver = undefined;
    else this.#operator = undefined;
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

  /** Whether this node's etcd member votes (this member's own view; a learner does not). */
  async voting(): Promise<boolean> {
    const etcd = this.#etcd;
    if (etcd === undefined) return false;
    try {
      // A learner cannot serve a linearizable list.
      const members = await etcd.client.memberList(false);
      const self = members.find((member) => member.name === this.#deps.nodeId);
      return self !== undefined && !self.isLearner;
    } catch {
      return false;
    }
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

  #start(name: RoleServiceName, command: string, args: readonly string[]): RoleService {
    return RoleService.start(
      {
        name,
        command,
        args,
        logDir: this.#deps.layout.controlPlaneRun,
        onStateChange: this.#deps.onStateChange,
      },
      this.#deps.supervisor,
      this.#deps.log,
    );
  }
}

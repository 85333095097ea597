// This node's place in a cluster: founding a new one (CA, first etcd member, kube-apiserver,
// API objects, operator), and on every boot of an owned node running the roles it was given.
// Nodes that hold the CA also serve registration and role credentials to the others.
import type {
  BootstrapResponse,
  CheckConsensusResponse,
  RoleNotice,
  NodeLayout,
} from '@metropolis/api';
import type { Logger } from '@metropolis/logging';
import type { Supervisor } from '@metropolis/supervisor';
import { AgentError } from '../errors.js';
import type { CheckResult } from '../health/health-book.js';
import type { NodeIdentity } from '../identity/node-identity.js';
import { readJoinParameters, readManagementCertificates } from '../storage/node-files.js';
import { pathExists } from '../storage/path-exists.js';
import type { ClusterPki } from './cluster-pki.js';
import { markOwned, markUnfinished } from './ownership.js';
import type { HaltPoint } from './test-halt.js';
import { NodeRoles, type ApplyOptions, type Role, type RoleBinaries } from './node-roles.js';
import {
  localCredentials,
  remoteCredentials,
  remoteNodeRenewal,
  type RoleCredentialSource,
} from './role-credentials.js';
import type { CertificateLifetimes } from './certificate-lifetimes.js';
import { runCertificateRenewal } from './certificate-renewer.js';
import type { RevocationLists, RevocationSource } from './revocation-lists.js';
import { remoteRevocationLists } from './revocation-source.js';

export interface ClusterNodeDeps {
  readonly layout: NodeLayout;
  readonly identity: NodeIdentity;
  readonly address: string;
  readonly binaries: Partial<RoleBinaries>;
  /** Flags the running release adds to kube-apiserver's command line. */
  readonly kubeApiserverArgs: readonly string[];
  readonly crdsDir: string;
  readonly supervisor: Supervisor;
  readonly signal: AbortSignal;
  readonly heartbeatTimeoutSeconds: number;
  readonly log: Logger;
  /** Called when the set of running roles changed. */
  readonly onRolesChanged?: () => void;
  /** Receives the health checks of the role services after every probe. */
  readonly reportRoleHealth: (checks: readonly CheckResult[]) => void;
  /** How long the certificates this node issues are valid, should it hold the CA. */
  readonly lifetimes: CertificateLifetimes;
  /** Called with each renewed node certificate (the management API serves it). */
  readonly onNodeCertificate: (certificatePem: string) => void;
  /** This node's copy of the revocation lists, kept current while the node is owned. */
  readonly revocation: RevocationLists;
  /** How often the lists are fetched, and the CA holder's controller looks at the cluster. */
  readonly revocationPeriodMs: number;
  /** Test-only fault points between the steps of a bootstrap. */
  readonly halt: HaltPoint;
}

/** How long a new cluster's control plane may take to serve. */
const bootstrapTimeoutMs = 120_000;

/** The roles the bootstrapping node takes, as in Monogon. */
export const bootstrapRoles: readonly Role[] = ['ConsensusMember', 'KubernetesController'];

export class ClusterNode {
  #deps: ClusterNodeDeps;
  #bootstrapping = false;
  #roles: NodeRoles | undefined;

  constructor(deps: ClusterNodeDeps) {
    this.#deps = deps;
  }

  /** Roles whose services serve on this node now. */
  get runningRoles(): readonly string[] {
    return this.#roles?.running ?? [];
  }

  /** Roles recorded for this node, running or not. */
  get appliedRoles(): readonly string[] {
    return this.#roles?.recorded ?? [];
  }

  /** Whether this node belongs to a cluster (its bootstrap or join finished). */
  async owned(): Promise<boolean> {
    return pathExists(this.#deps.layout.ownedMarker);
  }

  /** Creates a cluster on this node and certifies `ownerKey` as its owner. */
  async bootstrap(ownerKey: Uint8Array): Promise<BootstrapResponse> {
    const { layout, identity, address, log, signal } = this.#deps;
    if (this.#bootstrapping || (await this.owned())) {
      throw new AgentError('AGENT_ALREADY_OWNED', 'this node already belongs to a cluster');
    }
    const { etcd, kubeApiserver } = this.#deps.binaries;
    if (etcd === undefined || kubeApiserver === undefined) {
      throw new AgentError(
        'AGENT_CONTROL_PLANE',
        'this node has no etcd or kube-apiserver binary (--etcd, --kube-apiserver)',
      );
    }
    this.#bootstrapping = true;
    try {
      log.info('bootstrapping a new cluster');
      const { ClusterPki } = await import('./cluster-pki.js');
      await markUnfinished(layout);
      const pki = await ClusterPki.create(layout, this.#deps.lifetimes);
      await this.#deps.halt('bootstrap:ca');
      const ownerCertificate = await pki.ownerCertificate(ownerKey);
      const roles = this.#start(
        localCredentials(pki, identity.nodeId, address),
        pki,
        localNodeRenewal(pki, identity, address),
      );
      await roles.found(bootstrapRoles);
      await roles.whenRunning(
        'KubernetesController',
        AbortSignal.any([signal, AbortSignal.timeout(bootstrapTimeoutMs)]),
      );
      await pki.writeNodeCertificate(identity, address);
      await this.#deps.halt('bootstrap:node-certificate');
      // Last: from here on the node belongs to this cluster, on every boot.
      await markOwned(layout);
      log.info('cluster bootstrapped', { kubernetes: roles.apiserverUrl });
      return {
        nodeId: identity.nodeId,
        caCertificate: pki.ca.certificatePem,
        ownerCertificate,
        kubernetesEndpoint: roles.apiserverUrl,
      };
    } finally {
      this.#bootstrapping = false;
    }
  }

  /** On the boot of an owned node (or once it joined): run the roles it was given. */
  async resume(): Promise<void> {
    const { layout, address, identity } = this.#deps;
    const pki = await this.#heldCa();
    let source: RoleCredentialSource;
    let renewNode: () => Promise<string>;
    let lists: RevocationSource | undefined;
    if (pki !== undefined) {
      source = localCredentials(pki, identity.nodeId, address);
      renewNode = localNodeRenewal(pki, identity, address);
    } else {
      const parameters = await readJoinParameters(layout);
      const options = {
        endpoints: parameters?.endpoints ?? [],
        certificates: async () => {
          const certificates = await readManagementCertificates(layout);
          if (certificates === undefined) throw new Error('owned node without certificates');
          return certificates;
        },
        keyPem: await identity.keyPair.privateKeyPem(),
      };
      source = remoteCredentials(options);
      renewNode = remoteNodeRenewal(options);
      lists = remoteRevocationLists(options, this.#deps.signal);
    }
    const roles = this.#start(source, pki, renewNode, lists);
    await roles.load();
    // A CA holder whose roles were never recorded (it stopped while founding): found again.
    if (pki !== undefined && roles.recorded.length === 0) await roles.found(bootstrapRoles);
  }

  /** Records the roles the operator applies; see {@link NodeRoles.apply}. */
  async applyRoles(roles: readonly string[], options: ApplyOptions): Promise<RoleNotice[]> {
    if (this.#roles === undefined) {
      throw new AgentError('AGENT_ROLE_REFUSED', 'this node is not part of a cluster yet');
    }
    return this.#roles.apply(roles, options);
  }

  /** How this node's etcd member serves now; see {@link NodeRoles.checkConsensus}. */
  async checkConsensus(): Promise<CheckConsensusResponse> {
    if (this.#roles === undefined) {
      throw new AgentError('AGENT_ROLE_REFUSED', 'this node is not part of a cluster yet');
    }
    return this.#roles.checkConsensus();
  }

  /**
   * The cluster CA, if this node holds its key. The X.509 code it needs is loaded only then:
   * the other nodes hold certificates but never issue one.
   */
  async #heldCa(): Promise<ClusterPki | undefined> {
    const { layout } = this.#deps;
    if (!(await pathExists(layout.caKey))) return undefined;
    const { ClusterPki } = await import('./cluster-pki.js');
    return ClusterPki.load(layout, this.#deps.lifetimes);
  }

  #start(
    credentials: RoleCredentialSource,
    pki: ClusterPki | undefined,
    renewNodeCertificate: () => Promise<string>,
    remoteLists?: RevocationSource,
  ): NodeRoles {
    const { layout, identity, address, supervisor, log, revocation } = this.#deps;
    const lists = pki === undefined ? remoteLists : () => pki.ledger.lists();
    if (lists === undefined) throw new Error('no source of revocation lists');
    supervisor.run('revocation-lists', (signal) =>
      revocation.poll(lists, this.#deps.revocationPeriodMs, signal),
    );
    const { etcd, kubeApiserver, operator } = this.#deps.binaries;
    const roles = new NodeRoles({
      layout,
      nodeId: identity.nodeId,
      address,
      binaries: { etcd, kubeApiserver, operator },
      kubeApiserverArgs: this.#deps.kubeApiserverArgs,
      credentials,
      etcdRevocationList: async (etcdCa) => {
        const path = revocation.etcdListFor(etcdCa);
        await revocation.ensure(path, lists);
        return path;
      },
      holdsCa: pki !== undefined,
      ...(pki === undefined
        ? {}
        : { beforeOperator: (url: string) => this.#serveAsCaHolder(pki, url) }),
      heartbeatTimeoutSeconds: this.#deps.heartbeatTimeoutSeconds,
      log,
      onChanged: () => this.#deps.onRolesChanged?.(),
      reportHealth: this.#deps.reportRoleHealth,
    });
    this.#roles = roles;
    supervisor.run('roles', (signal, { children }) => roles.run(signal, children));
    supervisor.run('certificate-renewal', (signal) =>
      runCertificateRenewal(
        {
          layout,
          roles,
          credentials,
          renewNodeCertificate,
          onNodeCertificate: this.#deps.onNodeCertificate,
          log,
        },
        signal,
      ),
    );
    return roles;
  }

  /**
   * What only the CA holder does, once its kube-apiserver is ready: set the cluster's API
   * objects up, and serve registration and role credentials. Loaded here, on the one node
   * that needs it: it brings the Kubernetes client, the largest part of the agent.
   */
  async #serveAsCaHolder(pki: ClusterPki, apiserverUrl: string): Promise<void> {
    const { layout, identity, address, signal, crdsDir, log, revocationPeriodMs } = this.#deps;
    const { serveAsCaHolder } = await import('./ca-holder-services.js');
    await serveAsCaHolder(
      { layout, identity, address, pki, crdsDir, roles: bootstrapRoles, revocationPeriodMs, log },
      apiserverUrl,
      signal,
    );
  }
}

/** A CA holder renews its node certificate with its own CA. */
function localNodeRenewal(
  pki: ClusterPki,
  identity: NodeIdentity,
  address: string,
): () => Promise<string> {
  return () =>
    pki.nodeCertificate(identity.keyPair.publicKey, identity.nodeId, [address, '127.0.0.1']);
}

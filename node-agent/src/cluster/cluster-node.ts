// This node's place in a cluster: bootstrapping a new one (CA, etcd, kube-apiserver, API
// objects, operator) and, on later boots, starting the control plane it runs again.
import { randomBytes } from 'node:crypto';
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nodeRegistrationPort, type BootstrapResponse } from '@metropolis/api';
import type { Logger } from '@metropolis/logging';
import type { Supervisor } from '@metropolis/supervisor';
import { AgentError } from '../errors.js';
import type { NodeIdentity } from '../identity/node-identity.js';
import type { NodeLayout } from '../storage/layout.js';
import { ClusterPki } from './cluster-pki.js';
import { ControlPlaneServices, type ControlPlaneBinaryPaths } from './control-plane-services.js';
import { ClusterApi } from './cluster-api.js';
import { startRegistrationServer } from './registration-server.js';

export interface ClusterNodeDeps {
  readonly layout: NodeLayout;
  readonly identity: NodeIdentity;
  readonly address: string;
  readonly binaries: Partial<ControlPlaneBinaryPaths>;
  readonly crdsDir: string;
  readonly supervisor: Supervisor;
  readonly signal: AbortSignal;
  readonly heartbeatTimeoutSeconds: number;
  readonly log: Logger;
  /** Called when the set of running roles changed. */
  readonly onRolesChanged?: () => void;
}

/** The roles the bootstrapping node takes, as in Monogon. */
export const bootstrapRoles = ['ConsensusMember', 'KubernetesController'] as const;

export class ClusterNode {
  #deps: ClusterNodeDeps;
  #bootstrapping = false;
  #roles: readonly string[] = [];

  constructor(deps: ClusterNodeDeps) {
    this.#deps = deps;
  }

  /** Roles whose services this node runs now (set once its control plane is up). */
  get runningRoles(): readonly string[] {
    return this.#roles;
  }

  /** Whether this node belongs to a cluster (it holds the cluster CA certificate). */
  async owned(): Promise<boolean> {
    return access(join(this.#deps.layout.pkiDir, 'ca.pem')).then(
      () => true,
      () => false,
    );
  }

  /** Creates a cluster on this node and certifies `ownerKey` as its owner. */
  async bootstrap(ownerKey: Uint8Array): Promise<BootstrapResponse> {
    const { layout, identity, address, log } = this.#deps;
    if (this.#bootstrapping || (await this.owned())) {
      throw new AgentError('AGENT_ALREADY_OWNED', 'this node already belongs to a cluster');
    }
    const binaries = this.#binaries();
    this.#bootstrapping = true;
    try {
      log.info('bootstrapping a new cluster');
      const pki = await ClusterPki.create(layout);
      const ownerCertificate = await pki.ownerCertificate(ownerKey);
      const services = await this.#startControlPlane(pki, binaries);
      // Last: the node certificate marks the node as owned for the next boot.
      await pki.writeNodeCertificate(identity, address);
      log.info('cluster bootstrapped', { kubernetes: services.apiserverUrl });
      return {
        nodeId: identity.nodeId,
        caCertificate: pki.ca.certificatePem,
        ownerCertificate,
        kubernetesEndpoint: services.apiserverUrl,
      };
    } finally {
      this.#bootstrapping = false;
    }
  }

  /** On the boot of an owned node that holds the CA: start its control plane again. */
  async resume(): Promise<void> {
    const pki = await ClusterPki.load(this.#deps.layout);
    if (pki === undefined) return;
    await this.#startControlPlane(pki, this.#binaries());
  }

  async #startControlPlane(
    pki: ClusterPki,
    binaries: ControlPlaneBinaryPaths,
  ): Promise<ControlPlaneServices> {
    const { layout, identity, address, supervisor, signal, log, crdsDir } = this.#deps;
    const files = await pki.controlPlaneFiles(address);
    const services = new ControlPlaneServices({
      layout,
      binaries,
      files,
      nodeId: identity.nodeId,
      address,
      supervisor,
      log,
    });
    await services.start(signal);
    const api = new ClusterApi(services.apiserverUrl, files.admin);
    await api.apply(crdsDir, { nodeId: identity.nodeId, address, roles: bootstrapRoles }, signal);
    const ticket = await this.#registerTicket();
    await api.storeRegisterTicket(ticket);
    const registration = await startRegistrationServer(`0.0.0.0:${String(nodeRegistrationPort)}`, {
      pki,
      api,
      ticket,
      nodeId: identity.nodeId,
      address,
      log: this.#deps.log,
    });
    signal.addEventListener('abort', () => void registration.stop(), { once: true });
    await services.startOperator(this.#deps.heartbeatTimeoutSeconds);
    this.#roles = [...bootstrapRoles];
    this.#deps.onRolesChanged?.();
    return services;
  }

  /** The cluster's register ticket, created once and kept with the CA. */
  async #registerTicket(): Promise<string> {
    const path = join(this.#deps.layout.pkiDir, 'register-ticket');
    const existing = await readFile(path, 'utf8').catch(() => undefined);
    if (existing !== undefined) return existing.trim();
    const ticket = randomBytes(24).toString('base64url');
    await writeFile(path, ticket, { mode: 0o600, flush: true });
    return ticket;
  }

  #binaries(): ControlPlaneBinaryPaths {
    const { etcd, kubeApiserver, operator } = this.#deps.binaries;
    if (etcd === undefined || kubeApiserver === undefined) {
      throw new AgentError(
        'AGENT_CONTROL_PLANE',
        'this node has no etcd or kube-apiserver binary (--etcd, --kube-apiserver)',
      );
    }
    return { etcd, kubeApiserver, operator };
  }
}

// Runs on the CA holder: revokes what a node no longer may hold. A node whose MonogonNode is
// deleted or DECOMMISSIONED loses every certificate it was issued; a node that left
// KubernetesController loses its controller certificates; an etcd member certificate goes only
// once its member is out of etcd's member list (a revoked voter would be cut off by its peers).
// It also binds the operator's ClusterRole to each controller's own operator identity.
import { errorMessage } from '@metropolis/errors';
import type { Logger } from '@metropolis/logging';
import { sleep } from '@metropolis/supervisor';
import type {
  CertificateKind,
  CertificateLedger,
  IssuedCertificate,
} from './certificate-ledger.js';
import type { NodeView } from './operator-bindings.js';

/** What the controller reads and writes beyond the ledger. */
export interface RevocationInputs {
  /** Every MonogonNode (a quorum read). */
  nodes(): Promise<NodeView[]>;
  /** Names (node IDs) of etcd's members, as a linearizable list gives them. */
  members(): Promise<string[]>;
  /** Binds the operator's ClusterRole to exactly these nodes' operator identities. */
  bindOperators(nodeIds: readonly string[]): Promise<void>;
}

export interface RevocationControllerDeps {
  readonly ledger: CertificateLedger;
  readonly inputs: RevocationInputs;
  /** The CA holder itself: what it issued to itself is never revoked here. */
  readonly selfId: string;
  readonly periodMs: number;
  readonly log: Logger;
}

const controllerKinds: readonly CertificateKind[] = [
  'operator',
  'kube-apiserver',
  'kube-apiserver-etcd-client',
];

/**
 * The serials to revoke among `issued`. `issued` must be read before `nodes` and `members`: a
 * certificate issued after they were read could be for a role they do not show yet.
 * `members` undefined (etcd did not answer): no etcd certificate is revoked.
 */
export function serialsToRevoke(
  issued: readonly IssuedCertificate[],
  nodes: readonly NodeView[],
  members: readonly string[] | undefined,
  selfId: string,
): string[] {
  const byId = new Map(nodes.map((node) => [node.nodeId, node]));
  return issued
    .filter((entry) => {
      if (entry.revokedAt !== undefined || entry.nodeId === '' || entry.nodeId === selfId) {
        return false;
      }
      const node = byId.get(entry.nodeId);
      const gone = node === undefined || node.decommissioned;
      const has = (role: string): boolean => !gone && node.roles.includes(role);
      if (entry.kind === 'etcd') {
        return members !== undefined && !members.includes(entry.nodeId) && !has('ConsensusMember');
      }
      if (controllerKinds.includes(entry.kind)) return !has('KubernetesController');
      return entry.kind === 'node' && gone;
    })
    .map((entry) => entry.serial);
}

export class RevocationController {
  readonly #deps: RevocationControllerDeps;
  #passing: Promise<void> = Promise.resolve();

  constructor(deps: RevocationControllerDeps) {
    this.#deps = deps;
  }

  /**
   * One look at the cluster: revoke what must go, bind the operators that stay. Passes run one
   * at a time (the periodic ones and those asked for when credentials are issued).
   */
  pass(): Promise<void> {
    this.#passing = this.#passing.catch(() => undefined).then(() => this.#pass());
    return this.#passing;
  }

  async #pass(): Promise<void> {
    const { ledger, inputs, selfId, log } = this.#deps;
    const issued = [...ledger.issued];
    const nodes = await inputs.nodes();
    const members = await inputs.members().catch((error: unknown) => {
      log.warn('etcd members unknown: no etcd certificate is revoked now', {
        error: errorMessage(error),
      });
      return undefined;
    });
    const controllers = nodes
      .filter((node) => !node.decommissioned && node.roles.includes('KubernetesController'))
      .map((node) => node.nodeId);
    await inputs.bindOperators(controllers);
    const serials = serialsToRevoke(issued, nodes, members, selfId);
    if (serials.length === 0) {
      await ledger.lists();
      return;
    }
    await ledger.revoke(serials);
    const revoked = issued.filter((entry) => serials.includes(entry.serial));
    log.info('certificates revoked', {
      certificates: revoked.map((entry) => `${entry.nodeId}/${entry.kind}/${entry.serial}`),
    });
  }

  /** Passes every period (after one) until `signal` aborts; a failed pass is tried again. */
  async run(signal: AbortSignal): Promise<void> {
    await sleep(this.#deps.periodMs, signal);
    while (!signal.aborted) {
      await this.pass().catch((error: unknown) => {
        this.#deps.log.warn('revocation pass failed', { error: errorMessage(error) });
      });
      await sleep(this.#deps.periodMs, signal);
    }
  }
}

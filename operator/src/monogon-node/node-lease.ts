// Each MonogonNode's heartbeat as a coordination.k8s.io/v1 Lease of the same name (as the
// kubelet's NodeLease): renewed while the agent reports, so liveness costs no MonogonNode status
// write and wakes no MonogonNode watcher. Best effort: a failed write is logged and retried.
import {
  ApiException,
  CoordinationV1Api,
  PatchStrategy,
  V1MicroTime,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { monogonNodeApiVersion, monogonNodeKind } from '@metropolis/api';
import type { Logger } from '@metropolis/logging';
import { kubeError } from '../kube/kube-error.js';

/** The MonogonNode a Lease is about (its owner). */
export interface LeaseOwner {
  readonly name: string;
  readonly uid: string;
}

/** Writes node Leases; tests may substitute their own. */
export interface NodeLeaseSink {
  /** Sets the Lease's renewTime to `heardAtMs`; resolves true when written (never rejects). */
  renew(owner: LeaseOwner, heardAtMs: number): Promise<boolean>;
  /** Deletes the Lease of a node that is gone (never rejects). */
  remove(name: string): Promise<void>;
}

export interface NodeLeaseApiOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  /** holderIdentity: this operator instance. */
  readonly holder: string;
  /** How long after renewTime the node counts as heard from. */
  readonly durationSeconds: number;
  readonly logger: Logger;
}

/** The field manager of the operator's server-side applies. */
const fieldManager = 'metropolis-operator';

export class NodeLeaseApi implements NodeLeaseSink {
  readonly #api: CoordinationV1Api;
  readonly #options: NodeLeaseApiOptions;

  constructor(options: NodeLeaseApiOptions) {
    this.#api = options.kubeConfig.makeApiClient(CoordinationV1Api);
    this.#options = options;
  }

  async renew(owner: LeaseOwner, heardAtMs: number): Promise<boolean> {
    const { namespace, holder, durationSeconds, logger } = this.#options;
    try {
      // One request whether the Lease exists or not, whoever wrote it last (a previous leader).
      await this.#api.patchNamespacedLease(
        {
          name: owner.name,
          namespace,
          fieldManager,
          force: true,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: {
              name: owner.name,
              namespace,
              // Goes with the node wherever a garbage collector runs; the operator deletes it
              // itself too (remove), as this cluster runs none.
              ownerReferences: [
                {
                  apiVersion: monogonNodeApiVersion,
                  kind: monogonNodeKind,
                  name: owner.name,
                  uid: owner.uid,
                },
              ],
            },
            spec: {
              holderIdentity: holder,
              leaseDurationSeconds: durationSeconds,
              renewTime: new V1MicroTime(heardAtMs),
            },
          },
        },
        setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
      );
      return true;
    } catch (error) {
      logger.warn('node lease not renewed', {
        node: owner.name,
        error: kubeError('renew a node lease', error).message,
      });
      return false;
    }
  }

  async remove(name: string): Promise<void> {
    const { namespace, logger } = this.#options;
    try {
      await this.#api.deleteNamespacedLease({ name, namespace });
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return;
      logger.warn('node lease not deleted', {
        node: name,
        error: kubeError('delete a node lease', error).message,
      });
    }
  }
}

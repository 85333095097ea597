// MonogonNode reads and status writes through client-node 1.x. Status writes replace the status
// subresource conditioned on the resourceVersion the decision was made from, so a decision
// made on a stale copy fails with a conflict instead of overwriting newer data.
import {
  ApiException,
  CustomObjectsApi,
  PatchStrategy,
  Watch,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { monogonNodeResource, type MonogonNodeStatus } from '@metropolis/api';
import { errorMessage } from '@metropolis/errors';
import { sleep } from '@metropolis/supervisor';
import { OperatorError } from '../errors.js';
import { kubeError } from '../kube/kube-error.js';
import { parseMonogonNode, type NodeResource } from './monogon-node-resource.js';

/** The outcome of a conditional status write. */
export type StatusWriteResult =
  | { readonly kind: 'written'; readonly node: NodeResource }
  /** The object changed since it was read: read it again and decide anew. */
  | { readonly kind: 'conflict' }
  /** The object is gone. */
  | { readonly kind: 'notFound' };

/** What the reconciler needs of the MonogonNode API; tests may substitute their own. */
export interface MonogonNodeStore {
  get(name: string): Promise<NodeResource | undefined>;
  replaceStatus(node: NodeResource, status: MonogonNodeStatus): Promise<StatusWriteResult>;
  /** Sets `metadata.finalizers`, conditioned on the node's resourceVersion like a status write. */
  replaceFinalizers(node: NodeResource, finalizers: readonly string[]): Promise<StatusWriteResult>;
}

const { group, version, plural, kind } = monogonNodeResource;

/** Holds a deleted MonogonNode until the operator removed its etcd member. */
export const etcdMemberFinalizer = 'metropolis.monogon.dev/etcd-member';

export class MonogonNodeApi implements MonogonNodeStore {
  readonly #kubeConfig: KubeConfig;
  readonly #objects: CustomObjectsApi;

  constructor(kubeConfig: KubeConfig) {
    this.#kubeConfig = kubeConfig;
    this.#objects = kubeConfig.makeApiClient(CustomObjectsApi);
  }

  /** @throws {OperatorError} `OPERATOR_KUBE_API` (other than 404), `OPERATOR_MALFORMED_RESOURCE` */
  async get(name: string): Promise<NodeResource | undefined> {
    try {
      const raw: unknown = await this.#objects.getClusterCustomObject({
        group,
        version,
        plural,
        name,
      });
      return parseMonogonNode(raw);
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return undefined;
      throw kubeError(`get MonogonNode ${name}`, error);
    }
  }

  /** @throws {OperatorError} `OPERATOR_KUBE_API` for failures other than 404 and 409 */
  async replaceStatus(node: NodeResource, status: MonogonNodeStatus): Promise<StatusWriteResult> {
    try {
      const raw: unknown = await this.#objects.replaceClusterCustomObjectStatus({
        group,
        version,
        plural,
        name: node.metadata.name,
        body: {
          apiVersion: `${group}/${version}`,
          kind,
          metadata: { name: node.metadata.name, resourceVersion: node.metadata.resourceVersion },
          spec: node.spec,
          status,
        },
      });
      return { kind: 'written', node: parseMonogonNode(raw) };
    } catch (error) {
      if (error instanceof ApiException && error.code === 409) return { kind: 'conflict' };
      if (error instanceof ApiException && error.code === 404) return { kind: 'notFound' };
      throw kubeError(`write the status of MonogonNode ${node.metadata.name}`, error);
    }
  }

  /** @throws {OperatorError} `OPERATOR_KUBE_API` for failures other than 404 and 409 */
  async replaceFinalizers(
    node: NodeResource,
    finalizers: readonly string[],
  ): Promise<StatusWriteResult> {
    try {
      // A merge patch that names the resourceVersion fails with a conflict on a newer object.
      const raw: unknown = await this.#objects.patchClusterCustomObject(
        {
          group,
          version,
          plural,
          name: node.metadata.name,
          body: {
            metadata: { resourceVersion: node.metadata.resourceVersion, finalizers },
          },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      return { kind: 'written', node: parseMonogonNode(raw) };
    } catch (error) {
      if (error instanceof ApiException && error.code === 409) return { kind: 'conflict' };
      if (error instanceof ApiException && error.code === 404) return { kind: 'notFound' };
      throw kubeError(`set the finalizers of MonogonNode ${node.metadata.name}`, error);
    }
  }

  /**
   * Resolves once a watch on MonogonNodes opens. Right after a CRD is installed the API answers
   * 404 and then, for a moment, 429 while its watch cache fills; the framework's watch would
   * exit the process on either, so it starts only after this succeeded.
   * @throws {OperatorError} `OPERATOR_CRD_NOT_READY` after `timeoutMs`.
   */
  async waitUntilWatchable(signal: AbortSignal, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = 'no attempt';
    while (!signal.aborted) {
      let refused: unknown;
      try {
        let closed: unknown;
        // A refused watch reports through `done` before watch() resolves.
        const watch = await new Watch(this.#kubeConfig).watch(
          `/apis/${group}/${version}/${plural}`,
          {},
          () => undefined,
          (error: unknown) => {
            closed ??= error ?? new Error('closed at once');
          },
        );
        refused = closed;
        watch.abort();
      } catch (error) {
        refused = error;
      }
      if (refused === undefined) return;
      last = errorMessage(refused);
      if (Date.now() > deadline) {
        throw new OperatorError(
          'OPERATOR_CRD_NOT_READY',
          `cannot watch ${plural}.${group} (is crds/monogon-node.yaml installed?): ${last}`,
          { cause: refused },
        );
      }
      await sleep(250, signal);
    }
  }
}

// MonogonNode resources through the Kubernetes API: list, look up, change roles, approve, and
// when each was last heard from (the operator's heartbeat Lease per node).
// Role changes are read-modify-write guarded by resourceVersion and retried on conflict.
import {
  ApiException,
  CoordinationV1Api,
  CustomObjectsApi,
  type KubeConfig,
} from '@kubernetes/client-node';
import {
  monogonNodeCrdName,
  monogonNodeResource,
  sortRoles,
  systemNamespace,
  type MonogonNode,
  type MonogonNodeRole,
} from '@metropolis/api';
import { MetroctlError } from '../errors.js';
import { isMonogonNode } from './custom-resource-guards.js';
import { fromKubernetesError, kubernetesFailure } from './kubernetes-error.js';
import { fieldManager, mergePatch } from './write-options.js';

/** Whether node IDs given on the command line mean every node: none, or just `all`. */
export function selectsAll(ids: readonly string[]): boolean {
  return ids.length === 0 || (ids.length === 1 && ids[0] === 'all');
}

/** The outcome of a role change on one node. */
export interface RoleUpdate {
  readonly nodeId: string;
  /** False when the node already had the requested roles (nothing was written). */
  readonly changed: boolean;
  /** spec.roles after the change. */
  readonly roles: readonly MonogonNodeRole[];
}

/** How often a role change is retried when someone else changed the node meanwhile. */
const conflictAttempts = 5;

/** The MonogonNodes of one cluster. */
export class MonogonNodes {
  readonly #api: CustomObjectsApi;
  readonly #leases: CoordinationV1Api;

  constructor(api: CustomObjectsApi, leases: CoordinationV1Api) {
    this.#api = api;
    this.#leases = leases;
  }

  static fromKubeConfig(kc: KubeConfig): MonogonNodes {
    return new MonogonNodes(
      kc.makeApiClient(CustomObjectsApi),
      kc.makeApiClient(CoordinationV1Api),
    );
  }

  /**
   * When the operator last heard each node's agent: the renewTime of the node's Lease (same
   * name, in monogon-system), fresher than status.lastHeartbeat, which is written only with
   * other changes or every few minutes. Empty when Leases cannot be read (a cluster without
   * them, a user not allowed to).
   */
  async heartbeats(): Promise<Map<string, Date>> {
    let list;
    try {
      list = await this.#leases.listNamespacedLease({ namespace: systemNamespace });
    } catch (error) {
      if (error instanceof ApiException && (error.code === 403 || error.code === 404)) {
        return new Map();
      }
      throw this.#error(error, 'list node Leases');
    }
    const heard = new Map<string, Date>();
    for (const lease of list.items) {
      const name = lease.metadata?.name;
      const renewed = lease.spec?.renewTime;
      if (name !== undefined && renewed !== undefined) heard.set(name, new Date(renewed));
    }
    return heard;
  }

  /** Every node, sorted by ID. */
  async list(): Promise<MonogonNode[]> {
    let body: unknown;
    try {
      body = await this.#api.listClusterCustomObject(monogonNodeResource);
    } catch (error) {
      throw this.#error(error, 'list MonogonNodes');
    }
    const items: unknown =
      typeof body === 'object' && body !== null ? Reflect.get(body, 'items') : undefined;
    if (!Array.isArray(items)) {
      throw new MetroctlError('METROCTL_FAILED', 'the MonogonNode list has no items');
    }
    const nodes = items.filter(isMonogonNode);
    if (nodes.length !== items.length) {
      throw new MetroctlError('METROCTL_FAILED', 'the API returned a malformed MonogonNode');
    }
    return nodes.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
  }

  /**
   * The nodes named by `ids`, in that order; every node when `ids` is empty or `['all']`.
   * Unknown IDs fail with METROCTL_NOT_FOUND, naming all of them.
   */
  async select(ids: readonly string[]): Promise<MonogonNode[]> {
    const nodes = await this.list();
    if (selectsAll(ids)) return nodes;
    const byId = new Map(nodes.map((node) => [node.metadata.name, node]));
    const missing = ids.filter((id) => !byId.has(id));
    if (missing.length > 0) {
      throw new MetroctlError(
        'METROCTL_NOT_FOUND',
        `${missing.length === 1 ? 'node' : 'nodes'} not found: ${missing.join(', ')}`,
      );
    }
    return [...new Set(ids)].flatMap((id) => byId.get(id) ?? []);
  }

  /** One node; METROCTL_NOT_FOUND if there is no node with this ID. */
  async get(id: string): Promise<MonogonNode> {
    let body: unknown;
    try {
      body = await this.#api.getClusterCustomObject({ ...monogonNodeResource, name: id });
    } catch (error) {
      throw this.#error(error, `read node ${id}`, id);
    }
    if (!isMonogonNode(body)) {
      throw new MetroctlError('METROCTL_FAILED', `the API returned a malformed MonogonNode ${id}`);
    }
    return body;
  }

  /** Nodes that registered and wait for the owner's approval (state NEW, not approved). */
  async pendingApproval(): Promise<MonogonNode[]> {
    const nodes = await this.list();
    return nodes.filter((node) => node.status?.state === 'NEW' && node.spec.approved !== true);
  }

  /**
   * Sets spec.roles to `change(current roles)`. The patch carries the resourceVersion it was
   * computed from, so a concurrent change makes it fail with 409 and it is computed again.
   * The API server validates the result (e.g. KubernetesController requires ConsensusMember):
   * a refusal is METROCTL_REJECTED with the server's reason.
   */
  async updateRoles(
    id: string,
    change: (roles: readonly MonogonNodeRole[]) => MonogonNodeRole[],
  ): Promise<RoleUpdate> {
    for (let attempt = 1; ; attempt++) {
      const node = await this.get(id);
      const current = sortRoles(node.spec.roles ?? []);
      const next = sortRoles(change(current));
      if (next.length === current.length && next.every((role, i) => role === current[i])) {
        return { nodeId: id, changed: false, roles: current };
      }
      try {
        await this.#api.patchClusterCustomObject(
          {
            ...monogonNodeResource,
            name: id,
            fieldManager,
            body: {
              metadata: { resourceVersion: node.metadata.resourceVersion },
              spec: { roles: next },
            },
          },
          mergePatch,
        );
        return { nodeId: id, changed: true, roles: next };
      } catch (error) {
        if (kubernetesFailure(error)?.code === 409 && attempt < conflictAttempts) continue;
        throw this.#error(error, `update node ${id}`, id);
      }
    }
  }

  /** Sets spec.approved. Returns false when the node was approved already. */
  async approve(id: string): Promise<boolean> {
    const node = await this.get(id);
    if (node.spec.approved === true) return false;
    try {
      await this.#api.patchClusterCustomObject(
        { ...monogonNodeResource, name: id, fieldManager, body: { spec: { approved: true } } },
        mergePatch,
      );
    } catch (error) {
      throw this.#error(error, `approve node ${id}`, id);
    }
    return true;
  }

  #error(error: unknown, what: string, id?: string): MetroctlError {
    const failure = kubernetesFailure(error);
    if (failure?.code === 404) {
      // 404 means either no such node or no such resource type; the Status says which.
      const missingNode = id !== undefined && failure.reason === 'NotFound' && failure.name === id;
      return new MetroctlError(
        'METROCTL_NOT_FOUND',
        missingNode
          ? `node ${id} not found`
          : `cannot ${what}: the cluster has no MonogonNode resource type ` +
              `(${monogonNodeCrdName} is not installed)`,
        { cause: error },
      );
    }
    return fromKubernetesError(error, what);
  }
}

// OSUpdate reads and status writes, and the MonogonNodes an OSUpdate's nodeSelector selects,
// through client-node 1.x. Status writes are conditioned on the resourceVersion the plan was
// made from, so a plan made on a stale copy fails with a conflict instead of overwriting.
import { ApiException, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import {
  monogonNodeResource,
  osUpdateResource,
  type OSUpdateNodeSelector,
  type OSUpdateStatus,
} from '@metropolis/api';
import { errorMessage } from '@metropolis/errors';
import { parseMonogonNode, type NodeResource } from '../monogon-node/monogon-node-resource.js';
import { parseOSUpdate, type OSUpdateResource } from './os-update-resource.js';
import { kubeError } from '../kube/kube-error.js';

export type OSUpdateWriteResult =
  | { readonly kind: 'written'; readonly update: OSUpdateResource }
  | { readonly kind: 'conflict' }
  | { readonly kind: 'notFound' };

/** Every OSUpdate, and those that could not be read (named, with why). */
export interface OSUpdateList {
  readonly updates: readonly OSUpdateResource[];
  readonly malformed: readonly { readonly name: string; readonly message: string }[];
}

/** What the rollout needs of the Kubernetes API; tests may substitute their own. */
export interface OSUpdateStore {
  list(): Promise<OSUpdateList>;
  replaceStatus(update: OSUpdateResource, status: OSUpdateStatus): Promise<OSUpdateWriteResult>;
  /** Approved or not, every MonogonNode the selector matches (none: all). */
  selectNodes(selector: OSUpdateNodeSelector | undefined): Promise<NodeResource[]>;
}

export class OSUpdateApi implements OSUpdateStore {
  readonly #objects: CustomObjectsApi;

  constructor(kubeConfig: KubeConfig) {
    this.#objects = kubeConfig.makeApiClient(CustomObjectsApi);
  }

  async list(): Promise<OSUpdateList> {
    const { group, version, plural } = osUpdateResource;
    let raw: unknown;
    try {
      raw = await this.#objects.listClusterCustomObject({ group, version, plural });
    } catch (error) {
      throw kubeError('list OSUpdates', error);
    }
    const updates: OSUpdateResource[] = [];
    const malformed: { name: string; message: string }[] = [];
    for (const item of items(raw)) {
      try {
        updates.push(parseOSUpdate(item));
      } catch (error) {
        malformed.push({ name: nameOf(item), message: errorMessage(error) });
      }
    }
    return { updates, malformed };
  }

  async replaceStatus(
    update: OSUpdateResource,
    status: OSUpdateStatus,
  ): Promise<OSUpdateWriteResult> {
    const { group, version, plural, kind } = osUpdateResource;
    try {
      const raw: unknown = await this.#objects.replaceClusterCustomObjectStatus({
        group,
        version,
        plural,
        name: update.metadata.name,
        body: {
          apiVersion: `${group}/${version}`,
          kind,
          metadata: {
            name: update.metadata.name,
            resourceVersion: update.metadata.resourceVersion,
          },
          spec: update.spec,
          status,
        },
      });
      return { kind: 'written', update: parseOSUpdate(raw) };
    } catch (error) {
      if (error instanceof ApiException && error.code === 409) return { kind: 'conflict' };
      if (error instanceof ApiException && error.code === 404) return { kind: 'notFound' };
      throw kubeError(`write the status of OSUpdate ${update.metadata.name}`, error);
    }
  }

  async selectNodes(selector: OSUpdateNodeSelector | undefined): Promise<NodeResource[]> {
    const { group, version, plural } = monogonNodeResource;
    const labelSelector = labelSelectorString(selector);
    let raw: unknown;
    try {
      raw = await this.#objects.listClusterCustomObject({
        group,
        version,
        plural,
        ...(labelSelector === '' ? {} : { labelSelector }),
      });
    } catch (error) {
      throw kubeError('list MonogonNodes', error);
    }
    return items(raw).map((item) => parseMonogonNode(item));
  }
}

/** A LabelSelector in the API's query syntax ("a=b,c in (d,e),!f"); empty selects all. */
export function labelSelectorString(selector: OSUpdateNodeSelector | undefined): string {
  if (selector === undefined) return '';
  const parts = Object.entries(selector.matchLabels ?? {}).map(([key, value]) => `${key}=${value}`);
  for (const requirement of selector.matchExpressions ?? []) {
    const values = (requirement.values ?? []).join(',');
    switch (requirement.operator) {
      case 'In':
        parts.push(`${requirement.key} in (${values})`);
        break;
      case 'NotIn':
        parts.push(`${requirement.key} notin (${values})`);
        break;
      case 'Exists':
        parts.push(requirement.key);
        break;
      case 'DoesNotExist':
        parts.push(`!${requirement.key}`);
        break;
    }
  }
  return parts.join(',');
}

function items(raw: unknown): unknown[] {
  if (typeof raw !== 'object' || raw === null || !('items' in raw)) return [];
  return Array.isArray(raw.items) ? raw.items : [];
}

function nameOf(item: unknown): string {
  if (typeof item !== 'object' || item === null || !('metadata' in item)) return '?';
  const metadata = item.metadata;
  if (typeof metadata !== 'object' || metadata === null || !('name' in metadata)) return '?';
  return typeof metadata.name === 'string' ? metadata.name : '?';
}

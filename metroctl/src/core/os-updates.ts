// OSUpdate resources through the Kubernetes API: create, list, read, pause and resume.
// The API server validates every object against the CRD; its refusals keep its own words.
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import {
  osUpdateApiVersion,
  osUpdateCrdName,
  osUpdateKind,
  osUpdateResource,
  type OSUpdate,
  type OSUpdateSpec,
} from '@metropolis/api';
import { MetroctlError } from '../errors.js';
import { creationTime } from './creation-time.js';
import { isOSUpdate } from './custom-resource-guards.js';
import { fromKubernetesError, kubernetesFailure } from './kubernetes-error.js';
import { fieldManager, mergePatch } from './write-options.js';

/** The OSUpdates of one cluster (a cluster-scoped resource). */
export class OSUpdates {
  readonly #api: CustomObjectsApi;

  constructor(api: CustomObjectsApi) {
    this.#api = api;
  }

  static fromKubeConfig(kc: KubeConfig): OSUpdates {
    return new OSUpdates(kc.makeApiClient(CustomObjectsApi));
  }

  /**
   * Creates the OSUpdate `name` with `spec`. A name in use, or a spec the CRD's rules refuse,
   * is METROCTL_REJECTED with the API server's message.
   */
  async create(name: string, spec: OSUpdateSpec): Promise<OSUpdate> {
    const body: OSUpdate = {
      apiVersion: osUpdateApiVersion,
      kind: osUpdateKind,
      metadata: { name },
      spec,
    };
    let created: unknown;
    try {
      created = await this.#api.createClusterCustomObject({
        ...osUpdateResource,
        fieldManager,
        body,
      });
    } catch (error) {
      throw this.#error(error, `create OSUpdate ${name}`);
    }
    if (!isOSUpdate(created)) {
      throw new MetroctlError('METROCTL_FAILED', `the API returned a malformed OSUpdate ${name}`);
    }
    return created;
  }

  /** Every OSUpdate, oldest first (then by name), as `kubectl get` would list them by age. */
  async list(): Promise<OSUpdate[]> {
    let body: unknown;
    try {
      body = await this.#api.listClusterCustomObject(osUpdateResource);
    } catch (error) {
      throw this.#error(error, 'list OSUpdates');
    }
    const items: unknown =
      typeof body === 'object' && body !== null ? Reflect.get(body, 'items') : undefined;
    if (!Array.isArray(items)) {
      throw new MetroctlError('METROCTL_FAILED', 'the OSUpdate list has no items');
    }
    const updates = items.filter(isOSUpdate);
    if (updates.length !== items.length) {
      throw new MetroctlError('METROCTL_FAILED', 'the API returned a malformed OSUpdate');
    }
    const created = (update: OSUpdate): string => creationTime(update.metadata) ?? '';
    return updates.sort(
      (a, b) =>
        created(a).localeCompare(created(b)) || a.metadata.name.localeCompare(b.metadata.name),
    );
  }

  /** One OSUpdate; METROCTL_NOT_FOUND if there is none of this name. */
  async get(name: string): Promise<OSUpdate> {
    let body: unknown;
    try {
      body = await this.#api.getClusterCustomObject({ ...osUpdateResource, name });
    } catch (error) {
      throw this.#error(error, `read OSUpdate ${name}`, name);
    }
    if (!isOSUpdate(body)) {
      throw new MetroctlError('METROCTL_FAILED', `the API returned a malformed OSUpdate ${name}`);
    }
    return body;
  }

  /**
   * Sets spec.paused with a JSON merge patch. Returns false when it already had that value
   * (nothing was written).
   */
  async setPaused(name: string, paused: boolean): Promise<boolean> {
    const update = await this.get(name);
    if ((update.spec.paused ?? false) === paused) return false;
    try {
      await this.#api.patchClusterCustomObject(
        { ...osUpdateResource, name, fieldManager, body: { spec: { paused } } },
        mergePatch,
      );
    } catch (error) {
      throw this.#error(error, `${paused ? 'pause' : 'resume'} OSUpdate ${name}`, name);
    }
    return true;
  }

  #error(error: unknown, what: string, name?: string): MetroctlError {
    const failure = kubernetesFailure(error);
    if (failure?.code === 404) {
      // 404 means either no such update or no such resource type; the Status says which.
      const missing = name !== undefined && failure.reason === 'NotFound' && failure.name === name;
      return new MetroctlError(
        'METROCTL_NOT_FOUND',
        missing
          ? `OSUpdate ${name} not found`
          : `cannot ${what}: the cluster has no OSUpdate resource type ` +
              `(${osUpdateCrdName} is not installed)`,
        { cause: error },
      );
    }
    return fromKubernetesError(error, what);
  }
}

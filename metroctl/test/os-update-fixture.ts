// OSUpdates on a real kube-apiserver: installs crds/os-update.yaml, reads updates back, and
// writes their status through the status subresource as the operator would (no operator runs
// in metroctl's tests: the CLI is tested against the states the operator reports).
import {
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import {
  osUpdateApiVersion,
  osUpdateCrdName,
  osUpdateKind,
  osUpdateResource,
  type OSUpdate,
  type OSUpdateSpec,
  type OSUpdateStatus,
} from '@metropolis/api';
import { isOSUpdate } from '../src/index.js';
import { installCrd } from './install-crd.js';

/** Installs the OSUpdate CRD and waits until the API serves it. */
export function installOSUpdateCrd(kc: KubeConfig): Promise<void> {
  return installCrd(kc, 'os-update.yaml', osUpdateCrdName, osUpdateResource);
}

/** Creates an OSUpdate directly through the API (not through metroctl). */
export async function createOSUpdate(
  kc: KubeConfig,
  name: string,
  spec: OSUpdateSpec,
): Promise<void> {
  await kc.makeApiClient(CustomObjectsApi).createClusterCustomObject({
    ...osUpdateResource,
    body: { apiVersion: osUpdateApiVersion, kind: osUpdateKind, metadata: { name }, spec },
  });
}

/** The OSUpdate `name`, or undefined if there is none. */
export async function findOSUpdate(kc: KubeConfig, name: string): Promise<OSUpdate | undefined> {
  const body: unknown = await kc
    .makeApiClient(CustomObjectsApi)
    .getClusterCustomObject({ ...osUpdateResource, name })
    .catch(() => undefined);
  return isOSUpdate(body) ? body : undefined;
}

/** Replaces the status of `name` through the status subresource, as the operator does. */
export async function setOSUpdateStatus(
  kc: KubeConfig,
  name: string,
  status: OSUpdateStatus,
): Promise<void> {
  // A merge patch of the whole status; null first, so list entries do not linger.
  const api = kc.makeApiClient(CustomObjectsApi);
  const patch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  await api.patchClusterCustomObjectStatus(
    { ...osUpdateResource, name, body: { status: null } },
    patch,
  );
  await api.patchClusterCustomObjectStatus({ ...osUpdateResource, name, body: { status } }, patch);
}

// Installs one of crds/*.yaml (the contract itself) on a real kube-apiserver and waits until the
// API serves the resource, not merely until the CRD says Established.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ApiextensionsV1Api,
  CustomObjectsApi,
  loadYaml,
  type KubeConfig,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';

/** A cluster-scoped custom resource, as CustomObjectsApi addresses it. */
export interface CustomResource {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
}

/** Installs `crds/<file>` (CRD `crdName`) and waits until `resource` can be listed. */
export async function installCrd(
  kc: KubeConfig,
  file: string,
  crdName: string,
  resource: CustomResource,
): Promise<void> {
  const path = join(import.meta.dirname, '..', '..', 'crds', file);
  const crd = loadYaml<V1CustomResourceDefinition>(await readFile(path, 'utf8'));
  const api = kc.makeApiClient(ApiextensionsV1Api);
  await api.createCustomResourceDefinition({ body: crd });
  const objects = kc.makeApiClient(CustomObjectsApi);
  for (let i = 0; i < 200; i++) {
    const current = await api.readCustomResourceDefinition({ name: crdName });
    const established = current.status?.conditions?.find((c) => c.type === 'Established');
    // Established comes a moment before the storage answers (429 "storage is initializing").
    if (
      established?.status === 'True' &&
      (await objects.listClusterCustomObject({ ...resource }).then(
        () => true,
        () => false,
      ))
    ) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`CRD ${crdName} never became Established`);
}

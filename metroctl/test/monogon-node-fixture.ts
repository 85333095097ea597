// MonogonNodes on a real kube-apiserver: installs crds/monogon-node.yaml (the contract itself)
// and creates nodes with a status, as the operator and node agents would report it.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ApiextensionsV1Api,
  CustomObjectsApi,
  PatchStrategy,
  loadYaml,
  setHeaderOptions,
  type KubeConfig,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import {
  monogonNodeApiVersion,
  monogonNodeCrdName,
  monogonNodeGroup,
  monogonNodeKind,
  monogonNodePlural,
  monogonNodeVersion,
  type MonogonNodeSpec,
  type MonogonNodeStatus,
} from '@metropolis/api';

const crdFile = join(import.meta.dirname, '..', '..', 'crds', 'monogon-node.yaml');
const resource = {
  group: monogonNodeGroup,
  version: monogonNodeVersion,
  plural: monogonNodePlural,
};

/** A fresh, well-formed node ID. */
export function randomNodeId(): string {
  return `metropolis-${randomBytes(16).toString('hex')}`;
}

/** Installs the MonogonNode CRD and waits until the API serves it. */
export async function installMonogonNodeCrd(kc: KubeConfig): Promise<void> {
  const crd = loadYaml<V1CustomResourceDefinition>(await readFile(crdFile, 'utf8'));
  const api = kc.makeApiClient(ApiextensionsV1Api);
  await api.createCustomResourceDefinition({ body: crd });
  const objects = kc.makeApiClient(CustomObjectsApi);
  for (let i = 0; i < 200; i++) {
    const current = await api.readCustomResourceDefinition({ name: monogonNodeCrdName });
    const established = current.status?.conditions?.find((c) => c.type === 'Established');
    // Established comes a moment before the storage answers (429 "storage is initializing").
    if (
      established?.status === 'True' &&
      (await objects.listClusterCustomObject(resource).then(
        () => true,
        () => false,
      ))
    ) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`CRD ${monogonNodeCrdName} never became Established`);
}

/** Creates a MonogonNode and then sets its status through the status subresource. */
export async function createNode(
  kc: KubeConfig,
  id: string,
  spec: MonogonNodeSpec,
  status?: MonogonNodeStatus,
): Promise<void> {
  const api = kc.makeApiClient(CustomObjectsApi);
  await api.createClusterCustomObject({
    ...resource,
    body: {
      apiVersion: monogonNodeApiVersion,
      kind: monogonNodeKind,
      metadata: { name: id },
      spec,
    },
  });
  if (status !== undefined) {
    await api.patchClusterCustomObjectStatus(
      { ...resource, name: id, body: { status } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }
}

/** spec.roles of a node as the API stores it. */
export async function rolesOf(kc: KubeConfig, id: string): Promise<string[]> {
  const node: unknown = await kc
    .makeApiClient(CustomObjectsApi)
    .getClusterCustomObject({ ...resource, name: id });
  const spec: unknown = typeof node === 'object' && node !== null ? Reflect.get(node, 'spec') : {};
  const roles: unknown =
    typeof spec === 'object' && spec !== null ? Reflect.get(spec, 'roles') : [];
  return Array.isArray(roles) ? roles.map(String) : [];
}

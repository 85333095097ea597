// MonogonNodes on a real kube-apiserver: installs crds/monogon-node.yaml (the contract itself)
// and creates nodes with a status, as the operator and node agents would report it.
import { randomBytes } from 'node:crypto';
import {
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import {
  monogonNodeApiVersion,
  monogonNodeCrdName,
  monogonNodeKind,
  monogonNodeResource,
  type MonogonNodeSpec,
  type MonogonNodeStatus,
} from '@metropolis/api';
import { installCrd } from './install-crd.js';

/** A fresh, well-formed node ID. */
export function randomNodeId(): string {
  return `metropolis-${randomBytes(16).toString('hex')}`;
}

/** Installs the MonogonNode CRD and waits until the API serves it. */
export function installMonogonNodeCrd(kc: KubeConfig): Promise<void> {
  return installCrd(kc, 'monogon-node.yaml', monogonNodeCrdName, monogonNodeResource);
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
    ...monogonNodeResource,
    body: {
      apiVersion: monogonNodeApiVersion,
      kind: monogonNodeKind,
      metadata: { name: id },
      spec,
    },
  });
  if (status !== undefined) {
    await api.patchClusterCustomObjectStatus(
      { ...monogonNodeResource, name: id, body: { status } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }
}

/** spec.roles of a node as the API stores it. */
export async function rolesOf(kc: KubeConfig, id: string): Promise<string[]> {
  const node: unknown = await kc
    .makeApiClient(CustomObjectsApi)
    .getClusterCustomObject({ ...monogonNodeResource, name: id });
  const spec: unknown = typeof node === 'object' && node !== null ? Reflect.get(node, 'spec') : {};
  const roles: unknown =
    typeof spec === 'object' && spec !== null ? Reflect.get(spec, 'roles') : [];
  return Array.isArray(roles) ? roles.map(String) : [];
}

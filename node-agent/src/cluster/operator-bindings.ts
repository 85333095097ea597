// kube-apiserver reads no revocation list, so the operator's ClusterRole is bound per identity:
// to the user of each controller node's operator certificate (CN `operator:<nodeId>`), never to
// the group all operator certificates share. A removed controller's certificate then still
// authenticates, but is authorized for nothing.
import {
  CustomObjectsApi,
  RbacAuthorizationV1Api,
  type KubeConfig,
  type V1ClusterRoleBinding,
} from '@kubernetes/client-node';
import { monogonNodeResource } from '@metropolis/api';

/** The Kubernetes user of `nodeId`'s operator certificate. */
export function operatorUser(nodeId: string): string {
  return `operator:${nodeId}`;
}

/** The binding of the operator's ClusterRole, owned by the CA holder's revocation controller. */
export const operatorBinding = 'metropolis:operator';

/** A MonogonNode as far as revocation cares. */
export interface NodeView {
  readonly nodeId: string;
  readonly roles: readonly string[];
  readonly decommissioned: boolean;
}

/** Every MonogonNode, read from the API server (a quorum read, not a cache). */
export async function listNodeViews(kc: KubeConfig): Promise<NodeView[]> {
  const list = (await kc.makeApiClient(CustomObjectsApi).listClusterCustomObject({
    group: monogonNodeResource.group,
    version: monogonNodeResource.version,
    plural: monogonNodeResource.plural,
  })) as {
    items?: {
      metadata?: { name?: string };
      spec?: { roles?: string[] };
      status?: { state?: string };
    }[];
  };
  return (list.items ?? []).map((item) => ({
    nodeId: item.metadata?.name ?? '',
    roles: item.spec?.roles ?? [],
    decommissioned: item.status?.state === 'DECOMMISSIONED',
  }));
}

/** Makes the operator's ClusterRoleBinding name exactly the operator users of `nodeIds`. */
export async function bindOperators(kc: KubeConfig, nodeIds: readonly string[]): Promise<void> {
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  const body: V1ClusterRoleBinding = {
    metadata: { name: operatorBinding },
    roleRef: {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: 'metropolis:operator',
    },
    subjects: [...nodeIds].sort().map((nodeId) => ({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'User',
      name: operatorUser(nodeId),
    })),
  };
  let current: V1ClusterRoleBinding;
  try {
    current = await rbac.readClusterRoleBinding({ name: operatorBinding });
  } catch (error) {
    if ((error as { code?: unknown }).code !== 404) throw error;
    await rbac.createClusterRoleBinding({ body });
    return;
  }
  const names = (binding: V1ClusterRoleBinding): string =>
    (binding.subjects ?? []).map((subject) => `${subject.kind}/${subject.name}`).join(',');
  const same = names(current) === names(body) && current.roleRef.name === body.roleRef.name;
  if (same) return;
  // The role a binding refers to cannot change: a binding to another role is replaced whole.
  if (current.roleRef.name !== body.roleRef.name) {
    await rbac.deleteClusterRoleBinding({ name: operatorBinding });
    await rbac.createClusterRoleBinding({ body });
    return;
  }
  body.metadata = {
    name: operatorBinding,
    resourceVersion: current.metadata?.resourceVersion ?? '',
  };
  await rbac.replaceClusterRoleBinding({ name: operatorBinding, body });
}

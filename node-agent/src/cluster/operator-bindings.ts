// kube-apiserver reads no revocation list, so the operator's ClusterRole is bound per identity:
// to the user of each controller node's operator certificate (CN `operator:<nodeId>`), never to
// the group all operator certificates share. A removed controller's certificate then still
// authenticates, but is authorized for nothing.
import {
  CustomObjectsApi,
  RbacAuthorizationV1Api,
  type KubeConfig,
  type V1ClusterRoleBinding,
  type V1RoleBinding,
} from '@kubernetes/client-node';
import { monogonNodeResource, systemNamespace } from '@metropolis/api';
import { operatorEventsNamespace } from './cluster-api.js';

/** The Kubernetes user of `nodeId`'s operator certificate. */
export function operatorUser(nodeId: string): string {
  return `operator:${nodeId}`;
}

/** The bindings of the operator's roles, owned by the CA holder's revocation controller. */
export const operatorBinding = 'metropolis:operator';

/** A MonogonNode as far as revocation cares. */
export interface NodeView {
  readonly nodeId: string;
  readonly roles: readonly string[];
  /** DECOMMISSIONED, or being deleted. */
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
      metadata?: { name?: string; deletionTimestamp?: string };
      spec?: { roles?: string[] };
      status?: { state?: string };
    }[];
  };
  return (list.items ?? []).map((item) => ({
    nodeId: item.metadata?.name ?? '',
    roles: item.spec?.roles ?? [],
    // Being deleted (a finalizer waits for its etcd member to go) counts as gone.
    decommissioned:
      item.status?.state === 'DECOMMISSIONED' || item.metadata?.deletionTimestamp !== undefined,
  }));
}

/** Makes the operator's bindings name exactly the operator users of `nodeIds`. */
export async function bindOperators(kc: KubeConfig, nodeIds: readonly string[]): Promise<void> {
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  const subjects = [...nodeIds].sort().map((nodeId) => ({
    apiGroup: 'rbac.authorization.k8s.io',
    kind: 'User',
    name: operatorUser(nodeId),
  }));
  const roleRef = (kind: string, name: string) => ({
    apiGroup: 'rbac.authorization.k8s.io',
    kind,
    name,
  });
  // The roles themselves are the cluster set-up's (cluster-api.ts): what the operator may do.
  await reconcile(
    {
      metadata: { name: operatorBinding },
      roleRef: roleRef('ClusterRole', 'metropolis:operator'),
      subjects,
    },
    {
      read: (name) => rbac.readClusterRoleBinding({ name }),
      create: (body) => rbac.createClusterRoleBinding({ body }),
      replace: (name, body) => rbac.replaceClusterRoleBinding({ name, body }),
      remove: (name) => rbac.deleteClusterRoleBinding({ name }),
    },
  );
  const bindings: [string, string][] = [
    [systemNamespace, 'metropolis:operator'],
    [operatorEventsNamespace, 'metropolis:operator-events'],
  ];
  for (const [namespace, name] of bindings) {
    await reconcile(
      { metadata: { name, namespace }, roleRef: roleRef('Role', name), subjects },
      {
        read: (found) => rbac.readNamespacedRoleBinding({ name: found, namespace }),
        create: (body) => rbac.createNamespacedRoleBinding({ namespace, body }),
        replace: (found, body) =>
          rbac.replaceNamespacedRoleBinding({ name: found, namespace, body }),
        remove: (found) => rbac.deleteNamespacedRoleBinding({ name: found, namespace }),
      },
    );
  }
}

type Binding = V1ClusterRoleBinding | V1RoleBinding;

/** Creates `body`, or replaces the binding of its name when its role or subjects differ. */
async function reconcile<B extends Binding>(
  body: B,
  api: {
    read(name: string): Promise<B>;
    create(body: B): Promise<unknown>;
    replace(name: string, body: B): Promise<unknown>;
    remove(name: string): Promise<unknown>;
  },
): Promise<void> {
  const name = body.metadata?.name ?? '';
  let current: B;
  try {
    current = await api.read(name);
  } catch (error) {
    if ((error as { code?: unknown }).code !== 404) throw error;
    await api.create(body);
    return;
  }
  const names = (binding: Binding): string =>
    (binding.subjects ?? []).map((subject) => `${subject.kind}/${subject.name}`).join(',');
  if (current.roleRef.name !== body.roleRef.name || current.roleRef.kind !== body.roleRef.kind) {
    // The role a binding refers to cannot change: such a binding is replaced whole.
    await api.remove(name);
    await api.create(body);
    return;
  }
  if (names(current) === names(body)) return;
  body.metadata ??= {};
  body.metadata.resourceVersion = current.metadata?.resourceVersion ?? '';
  await api.replace(name, body);
}

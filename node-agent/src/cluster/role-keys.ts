// Which keys the credentials of each role are issued for: the node generates them, and the
// issuer certifies exactly these (RolePublicKeys in the NodeCredentials request names them).
import type { RolePublicKeys } from '@metropolis/api';

export type RoleKeyName = keyof RolePublicKeys;

/** Keys per role; a role not listed needs none. */
export const roleKeys: Readonly<Record<string, readonly RoleKeyName[]>> = {
  ConsensusMember: ['etcd'],
  KubernetesController: ['kubeApiserver', 'kubeApiserverEtcdClient', 'operator'],
};

/** The keys `roles` need, in a stable order. */
export function keysOf(roles: readonly string[]): RoleKeyName[] {
  return roles.flatMap((role) => roleKeys[role] ?? []);
}

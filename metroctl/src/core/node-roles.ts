// Node roles as users type them: full names in any case, or Monogon's short aliases
// (cm, kc, kw). Also the role-set arithmetic behind `node add/remove role`.
// The role list and its order are the CRD's (@metropolis/api).
import { monogonNodeRoles, sortRoles, type MonogonNodeRole } from '@metropolis/api';
import { MetroctlError } from '../errors.js';

/** Short names accepted wherever a role is. */
export const roleAliases: Readonly<Record<string, MonogonNodeRole>> = {
  cm: 'ConsensusMember',
  kc: 'KubernetesController',
  kw: 'KubernetesWorker',
};

/** The role `text` names (alias or full name, case-insensitive); METROCTL_USAGE otherwise. */
export function parseRole(text: string): MonogonNodeRole {
  const key = text.trim().toLowerCase();
  const role = roleAliases[key] ?? monogonNodeRoles.find((name) => name.toLowerCase() === key);
  if (role === undefined) {
    const accepted = monogonNodeRoles.map((name) => {
      const alias = Object.keys(roleAliases).find((short) => roleAliases[short] === name);
      return alias === undefined ? name : `${name} (${alias})`;
    });
    throw new MetroctlError(
      'METROCTL_USAGE',
      `unknown role "${text}": use one of ${accepted.join(', ')}`,
    );
  }
  return role;
}

/** `roles` with `role` added. */
export function withRole(
  roles: readonly MonogonNodeRole[],
  role: MonogonNodeRole,
): MonogonNodeRole[] {
  return sortRoles([...roles, role]);
}

/** `roles` with `role` removed. */
export function withoutRole(
  roles: readonly MonogonNodeRole[],
  role: MonogonNodeRole,
): MonogonNodeRole[] {
  return sortRoles(roles.filter((existing) => existing !== role));
}

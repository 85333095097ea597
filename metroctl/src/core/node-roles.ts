// Node roles as users type them: full names in any case, or Monogon's short aliases
// (cm, kc, kw). Also the role-set arithmetic behind `node add/remove role`.
import { MetroctlError } from '../errors.js';
import type { MonogonNodeRole } from '@metropolis/api';

/** Every role, in the order Monogon sorts them. */
export const nodeRoles: readonly MonogonNodeRole[] = [
  'ConsensusMember',
  'KubernetesController',
  'KubernetesWorker',
];

/** Short names accepted wherever a role is. */
export const roleAliases: Readonly<Record<string, MonogonNodeRole>> = {
  cm: 'ConsensusMember',
  kc: 'KubernetesController',
  kw: 'KubernetesWorker',
};

/** The role `text` names (alias or full name, case-insensitive); METROCTL_USAGE otherwise. */
export function parseRole(text: string): MonogonNodeRole {
  const key = text.trim().toLowerCase();
  const role = roleAliases[key] ?? nodeRoles.find((name) => name.toLowerCase() === key);
  if (role === undefined) {
    const accepted = nodeRoles.map((name) => {
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

/** Roles without duplicates, sorted as Monogon prints them. */
export function sortRoles<Role extends string>(roles: Iterable<Role>): Role[] {
  return [...new Set(roles)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
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

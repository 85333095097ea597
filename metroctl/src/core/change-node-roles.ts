// `node add role` / `node remove role` over several nodes: one read-modify-write per node,
// continuing past failures as Monogon does, and reporting each node as it is done.
import { MetroctlError } from '../errors.js';
import type { MonogonNodeRole } from '@metropolis/api';
import type { MonogonNodes, RoleUpdate } from './monogon-nodes.js';
import { withRole, withoutRole } from './node-roles.js';

export interface ChangeNodeRolesOptions {
  readonly nodes: MonogonNodes;
  readonly change: 'add' | 'remove';
  readonly role: MonogonNodeRole;
  readonly ids: readonly string[];
  /** Called after each node that was updated (or already was as asked). */
  readonly onUpdated: (update: RoleUpdate) => void;
  /** Called for each node that could not be updated; the others are still tried. */
  readonly onFailed: (nodeId: string, error: MetroctlError) => void;
}

/**
 * Changes the role on every node. Resolves when all succeeded; otherwise rejects with the
 * first failure's code (so the exit code says why), after every node was tried.
 */
export async function changeNodeRoles(options: ChangeNodeRolesOptions): Promise<void> {
  const failures: MetroctlError[] = [];
  const apply =
    options.change === 'add'
      ? (roles: readonly MonogonNodeRole[]) => withRole(roles, options.role)
      : (roles: readonly MonogonNodeRole[]) => withoutRole(roles, options.role);
  for (const id of new Set(options.ids)) {
    try {
      options.onUpdated(await options.nodes.updateRoles(id, apply));
    } catch (error) {
      if (!(error instanceof MetroctlError)) throw error;
      failures.push(error);
      options.onFailed(id, error);
    }
  }
  const [first] = failures;
  if (first === undefined) return;
  if (options.ids.length === 1) throw first;
  throw new MetroctlError(
    first.code,
    `${String(failures.length)} of ${String(new Set(options.ids).size)} nodes not updated`,
    { cause: first },
  );
}

// The roles recorded for this node in data/roles.json (the owner's choice as the operator
// applied it) and how its etcd member first starts; read at every boot, replaced atomically.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { monogonNodeRoles, roleNamed, sortRoles, type MonogonNodeRole } from '@metropolis/api';
import { AgentError } from '../errors.js';

export type Role = MonogonNodeRole;

/** How etcd first starts when its data directory is empty. */
export interface ConsensusStart {
  readonly initialCluster: string;
  readonly state: 'new' | 'existing';
}

/** What is kept in data/roles.json. */
export interface RoleConfig {
  readonly roles: readonly Role[];
  readonly consensus?: ConsensusStart;
}

export class RoleRecord {
  readonly #path: string;
  #config: RoleConfig = { roles: [] };

  /** `path`: the node layout's roleConfig. */
  constructor(path: string) {
    this.#path = path;
  }

  get config(): RoleConfig {
    return this.#config;
  }

  /** Reads the roles kept from an earlier boot (none on a fresh node). */
  async load(): Promise<void> {
    const text = await readFile(this.#path, 'utf8').catch(() => undefined);
    if (text === undefined) return;
    const parsed: unknown = JSON.parse(text);
    this.#config = parseRoleConfig(parsed);
  }

  async save(config: RoleConfig): Promise<void> {
    const path = this.#path;
    await mkdir(dirname(path), { recursive: true });
    await writeFile(`${path}.tmp`, `${JSON.stringify(config, null, 2)}\n`, { flush: true });
    await rename(`${path}.tmp`, path);
    this.#config = config;
  }
}

/** `requested` as known roles, without duplicates, in the canonical order. */
export function validRoles(requested: readonly string[]): Role[] {
  const roles: Role[] = [];
  for (const role of new Set(requested)) {
    const known = roleNamed(role);
    if (known === undefined) {
      throw new AgentError(
        'AGENT_INVALID_ARGUMENT',
        `unknown role ${JSON.stringify(role)}; known roles: ${monogonNodeRoles.join(', ')}`,
      );
    }
    roles.push(known);
  }
  return sortRoles(roles);
}

function parseRoleConfig(value: unknown): RoleConfig {
  if (typeof value !== 'object' || value === null || !('roles' in value)) {
    throw new AgentError('AGENT_STORAGE', 'roles.json has no roles');
  }
  const roles = Array.isArray(value.roles) ? validRoles(value.roles.map(String)) : [];
  if (!('consensus' in value) || typeof value.consensus !== 'object' || value.consensus === null) {
    return { roles };
  }
  const consensus = value.consensus;
  const initialCluster =
    'initialCluster' in consensus && typeof consensus.initialCluster === 'string'
      ? consensus.initialCluster
      : '';
  const state = 'state' in consensus && consensus.state === 'new' ? 'new' : 'existing';
  return { roles, consensus: { initialCluster, state } };
}

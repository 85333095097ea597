// The rules that bound disruption during a rollout: how many nodes may be down at once, in which
// order nodes go, and whether etcd keeps quorum with one more member down. Pure.
import type { MonogonNodeRole } from '@metropolis/api';
import type { EtcdView } from '../consensus/etcd-view.js';

/**
 * How many more nodes may be taken down now: maxUnavailable (already resolved to a count) minus
 * the nodes this rollout has down, minus selected nodes unavailable for other reasons. Never
 * negative.
 */
export function disruptionBudget(counts: {
  readonly maxUnavailable: number;
  /** Nodes this rollout is rebooting or verifying. */
  readonly disrupting: number;
  /** Other selected nodes that are not UP, not reachable, or not healthy. */
  readonly unavailable: number;
}): number {
  return Math.max(0, counts.maxUnavailable - counts.disrupting - counts.unavailable);
}

/**
 * The order of rollout tiers: workers (neither ConsensusMember nor KubernetesController) first,
 * so a bad release shows on nodes whose loss costs least; then controllers; then consensus
 * members. Controllers and consensus members are all etcd members (KubernetesController
 * requires ConsensusMember), so both go one at a time.
 */
export const rolloutTiers = ['worker', 'controller', 'consensus'] as const;
export type RolloutTier = (typeof rolloutTiers)[number];

export function rolloutTier(roles: readonly MonogonNodeRole[]): RolloutTier {
  if (roles.includes('KubernetesController')) return 'controller';
  if (roles.includes('ConsensusMember')) return 'consensus';
  return 'worker';
}

/** Whether the node runs an etcd member: its reboot is bounded by quorum. */
export function isConsensusMember(roles: readonly MonogonNodeRole[]): boolean {
  return roles.includes('ConsensusMember') || roles.includes('KubernetesController');
}

/**
 * `nodes` in rollout order: by tier, then by name; the node running the leading operator goes
 * last in its tier, so its own reboot (and the failover it causes) happens once, as late as it
 * can (as brupop does).
 */
export function rolloutOrder<
  T extends { readonly name: string; readonly specRoles: readonly MonogonNodeRole[] },
>(nodes: readonly T[], operatorNode?: string): T[] {
  const rank = (node: T): number => rolloutTiers.indexOf(rolloutTier(node.specRoles));
  return [...nodes].sort(
    (a, b) =>
      rank(a) - rank(b) ||
      Number(a.name === operatorNode) - Number(b.name === operatorNode) ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
}

export type QuorumCheck = { readonly ok: true } | { readonly ok: false; readonly message: string };

/**
 * Whether etcd keeps quorum while `node` is down: the healthy voting members other than it must
 * be a majority of all voting members (quorum = floor(voting / 2) + 1, etcd's own rule). No
 * view (etcd could not be asked) means no.
 *
 * One or two voting members tolerate no member down at all, yet must be updated too (a
 * single-node cluster is a cluster): there a member may reboot when every voting member is
 * healthy, and consensus pauses while it does. Never two at once: members go one at a time.
 */
export function quorumCheck(etcd: EtcdView | undefined, node: string): QuorumCheck {
  if (etcd === undefined) {
    return {
      ok: false,
      message: 'etcd member health could not be read; no member is rebooted blind',
    };
  }
  const voting = etcd.members.filter((member) => member.voting);
  if (voting.length > 0 && voting.length < 3) {
    const unhealthy = voting.filter((member) => !member.healthy).map((member) => member.name);
    if (unhealthy.length === 0) return { ok: true };
    return {
      ok: false,
      message:
        `etcd has ${String(voting.length)} voting member(s) and tolerates no failure; ` +
        `waiting until every member is healthy (unhealthy: ${unhealthy.join(', ')})`,
    };
  }
  const quorum = Math.floor(voting.length / 2) + 1;
  const healthyOthers = voting.filter((member) => member.healthy && member.name !== node);
  if (healthyOthers.length >= quorum) return { ok: true };
  const unhealthy = voting
    .filter((member) => !member.healthy && member.name !== node)
    .map((member) => member.name);
  return {
    ok: false,
    message:
      `etcd has ${String(voting.length)} voting members and needs ${String(quorum)}; with this ` +
      `node down only ${String(healthyOthers.length)} healthy would remain` +
      (unhealthy.length > 0 ? ` (unhealthy: ${unhealthy.join(', ')})` : ''),
  };
}

// When a MonogonNode status is worth a write: at once when something a user acts on changed,
// but a heartbeat or a detail (boot order, health check list) at most every status refresh
// interval; and when the node's heartbeat Lease is renewed. N nodes do not mean N status writes
// per heartbeat, nor several per update step.
import type { MonogonNodeStatus } from '@metropolis/api';

/**
 * Fields that ride along with the next write rather than cause one: they move during every
 * update step (staging, commit) and while checks settle after a boot, and nobody acts on them
 * (state, health, conditions, version and slot say what matters).
 */
export const detailFields: readonly string[] = ['bootOrder', 'healthChecks', 'lastHeartbeat'];

/**
 * none: nothing differs. change: a material field differs (listed in `fields`). refresh: only
 * details differ and the stored heartbeat is at least the refresh interval old. defer: only
 * details differ, and too little time has passed.
 */
export type StatusWriteDecision =
  | { readonly kind: 'none' }
  | { readonly kind: 'change'; readonly fields: readonly string[] }
  | { readonly kind: 'refresh' }
  | { readonly kind: 'defer' };

/** Decides whether `desired` should replace `current`. */
export function statusWriteDecision(
  current: MonogonNodeStatus,
  desired: MonogonNodeStatus,
  refreshIntervalMs: number,
): StatusWriteDecision {
  const changed = changedFields(current, desired);
  const fields = changed.filter((field) => !detailFields.includes(field));
  if (fields.length > 0) return { kind: 'change', fields };
  if (changed.length === 0) return { kind: 'none' };
  if (current.lastHeartbeat === undefined || desired.lastHeartbeat === undefined) {
    return { kind: 'refresh' };
  }
  const age = Date.parse(desired.lastHeartbeat) - Date.parse(current.lastHeartbeat);
  return Number.isNaN(age) || age >= refreshIntervalMs ? { kind: 'refresh' } : { kind: 'defer' };
}

/** renew: write the Lease now. wait: look again at `atMs`. */
export type LeaseRenewal =
  { readonly kind: 'renew' } | { readonly kind: 'wait'; readonly atMs: number };

/**
 * Whether the node's Lease should be renewed. `renewedMs` is the renewTime this operator last
 * wrote (undefined: none yet), `heardMs` when the agent was last heard from. Renewed when the
 * agent was heard since and the last renewal is at least `intervalMs` old; a silent agent's
 * Lease is left to expire. `recheckMs` paces the look at a silent node.
 */
export function leaseRenewal(
  renewedMs: number | undefined,
  heardMs: number,
  nowMs: number,
  intervalMs: number,
  recheckMs: number,
): LeaseRenewal {
  if (renewedMs === undefined) return { kind: 'renew' };
  const dueMs = renewedMs + intervalMs;
  if (heardMs > renewedMs)
    return nowMs >= dueMs ? { kind: 'renew' } : { kind: 'wait', atMs: dueMs };
  return { kind: 'wait', atMs: Math.max(dueMs, nowMs + recheckMs) };
}

/** The top-level status fields whose values differ, in a stable order. */
export function changedFields(a: MonogonNodeStatus, b: MonogonNodeStatus): string[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  const left: Record<string, unknown> = { ...a };
  const right: Record<string, unknown> = { ...b };
  return keys.filter((key) => canonical(left[key]) !== canonical(right[key]));
}

/** JSON with object keys sorted, so equal values compare equal however they were built. */
export function canonical(value: unknown): string {
  if (value === undefined) return 'undefined';
  return JSON.stringify(value, (_key, inner: unknown) =>
    typeof inner === 'object' && inner !== null && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
      : inner,
  );
}

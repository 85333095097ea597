// When a MonogonNode status is worth a write: at once when something a user acts on changed,
// but a mere heartbeat refresh at most every refresh interval, so N nodes do not mean N writes
// per heartbeat.
import type { MonogonNodeStatus } from '@metropolis/api';

/**
 * none: nothing differs. change: a material field differs (listed in `fields`). refresh: only
 * lastHeartbeat differs and the stored one is at least the refresh interval old. defer: only
 * lastHeartbeat differs, and too little time has passed.
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
  const fields = changedFields(current, desired).filter((field) => field !== 'lastHeartbeat');
  if (fields.length > 0) return { kind: 'change', fields };
  if (current.lastHeartbeat === desired.lastHeartbeat) return { kind: 'none' };
  if (current.lastHeartbeat === undefined || desired.lastHeartbeat === undefined) {
    return { kind: 'refresh' };
  }
  const age = Date.parse(desired.lastHeartbeat) - Date.parse(current.lastHeartbeat);
  return Number.isNaN(age) || age >= refreshIntervalMs ? { kind: 'refresh' } : { kind: 'defer' };
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

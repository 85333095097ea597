// Leader election decisions over a coordination.k8s.io/v1 Lease, as client-go's leaderelection
// makes them, as pure functions. Expiry is judged by when *we* first saw the current record,
// never by the holder's clock (renewTime), so clock skew between nodes cannot cause two leaders.

/** The parts of a Lease spec that election reads and writes; times in ms since the epoch. */
export interface LeaseRecord {
  /** Empty or undefined: nobody holds the lease (released). */
  readonly holderIdentity: string | undefined;
  readonly leaseDurationSeconds: number | undefined;
  readonly acquireTimeMs: number | undefined;
  readonly renewTimeMs: number | undefined;
  readonly leaseTransitions: number;
}

export interface LeaseDecisionInput {
  /** The lease as just read; undefined when it does not exist. */
  readonly lease: LeaseRecord | undefined;
  readonly identity: string;
  readonly nowMs: number;
  /** When this instance first saw the current record unchanged (local clock). */
  readonly observedAtMs: number;
  /** Our lease duration, for records that carry none. */
  readonly leaseDurationMs: number;
}

/**
 * create: no Lease exists. renew: we hold it. takeOver: it is free (released) or its holder
 * let it expire. wait: someone else holds it until at least `expiresAtMs`.
 */
export type LeaseDecision =
  | { readonly kind: 'create' }
  | { readonly kind: 'renew' }
  | { readonly kind: 'takeOver'; readonly reason: 'released' | 'expired'; readonly from: string }
  | { readonly kind: 'wait'; readonly holder: string; readonly expiresAtMs: number };

export function decideLease(input: LeaseDecisionInput): LeaseDecision {
  const { lease, identity } = input;
  if (lease === undefined) return { kind: 'create' };
  const holder = lease.holderIdentity ?? '';
  if (holder === identity) return { kind: 'renew' };
  if (holder === '') return { kind: 'takeOver', reason: 'released', from: '' };
  const durationMs =
    lease.leaseDurationSeconds === undefined
      ? input.leaseDurationMs
      : lease.leaseDurationSeconds * 1000;
  const expiresAtMs = input.observedAtMs + durationMs;
  return input.nowMs >= expiresAtMs
    ? { kind: 'takeOver', reason: 'expired', from: holder }
    : { kind: 'wait', holder, expiresAtMs };
}

/** The record to write for a decision that acquires or keeps the lease. */
export function acquiredRecord(
  decision: Exclude<LeaseDecision, { kind: 'wait' }>,
  previous: LeaseRecord | undefined,
  identity: string,
  nowMs: number,
  leaseDurationMs: number,
): LeaseRecord {
  const leaseDurationSeconds = Math.max(1, Math.ceil(leaseDurationMs / 1000));
  const transitions = previous?.leaseTransitions ?? 0;
  switch (decision.kind) {
    case 'create':
      return {
        holderIdentity: identity,
        leaseDurationSeconds,
        acquireTimeMs: nowMs,
        renewTimeMs: nowMs,
        leaseTransitions: 0,
      };
    case 'renew':
      return {
        holderIdentity: identity,
        leaseDurationSeconds,
        acquireTimeMs: previous?.acquireTimeMs ?? nowMs,
        renewTimeMs: nowMs,
        leaseTransitions: transitions,
      };
    case 'takeOver':
      return {
        holderIdentity: identity,
        leaseDurationSeconds,
        acquireTimeMs: nowMs,
        renewTimeMs: nowMs,
        leaseTransitions: transitions + 1,
      };
  }
}

/**
 * The record a stopping leader writes so a successor need not wait out the lease (client-go's
 * ReleaseOnCancel): no holder, a one-second duration.
 */
export function releasedRecord(previous: LeaseRecord, nowMs: number): LeaseRecord {
  return {
    holderIdentity: undefined,
    leaseDurationSeconds: 1,
    acquireTimeMs: nowMs,
    renewTimeMs: nowMs,
    leaseTransitions: previous.leaseTransitions,
  };
}

/** A comparable key of a record: a change of any field restarts the expiry clock. */
export function recordKey(record: LeaseRecord | undefined): string {
  return record === undefined
    ? ''
    : JSON.stringify([
        record.holderIdentity ?? '',
        record.leaseDurationSeconds,
        record.acquireTimeMs,
        record.renewTimeMs,
        record.leaseTransitions,
      ]);
}

// Conditions per the Kubernetes API conventions (metav1.Condition): one per type, and
// lastTransitionTime moves only when status changes, not when reason or message do.
import type { MonogonNodeCondition, MonogonNodeConditionStatus } from '@metropolis/api';

/** What a reconciler decides about one condition type. */
export interface ConditionUpdate {
  readonly type: string;
  readonly status: MonogonNodeConditionStatus;
  /** CamelCase, machine-readable. */
  readonly reason: string;
  readonly message: string;
}

/**
 * Returns `conditions` with `update` applied, order kept (a new type goes last). The
 * transition time is `now` for a new type or a changed status, else the previous one.
 */
export function setCondition(
  conditions: readonly MonogonNodeCondition[],
  update: ConditionUpdate,
  now: string,
  observedGeneration: number,
): MonogonNodeCondition[] {
  const previous = conditions.find((condition) => condition.type === update.type);
  const next: MonogonNodeCondition = {
    type: update.type,
    status: update.status,
    reason: update.reason,
    message: update.message,
    lastTransitionTime:
      previous !== undefined && previous.status === update.status
        ? previous.lastTransitionTime
        : now,
    observedGeneration,
  };
  return previous === undefined
    ? [...conditions, next]
    : conditions.map((condition) => (condition.type === update.type ? next : condition));
}

/** The condition of `type`, if present. */
export function findCondition(
  conditions: readonly MonogonNodeCondition[] | undefined,
  type: string,
): MonogonNodeCondition | undefined {
  return conditions?.find((condition) => condition.type === type);
}

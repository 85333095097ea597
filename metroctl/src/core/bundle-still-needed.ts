// Whether an OSUpdate's nodes may still fetch its bundle: `update apply FILE` serves the file
// until they no longer need it. Pure: decided from the object alone.
import { isTerminalOSUpdatePhase, type OSUpdate } from '@metropolis/api';

/** Why the bundle is or is not needed any more. */
export type BundleNeedReason =
  /** The operator has not reported on the update yet (no node entries). */
  | 'not-started'
  /** status.observedGeneration is older than the spec: the status cannot be trusted yet. */
  | 'status-outdated'
  /** Some selected nodes are Pending or Staging. */
  | 'nodes-to-stage'
  /** The rollout is over: Succeeded, Halted or Reverted. */
  | 'finished'
  /** Every selected node is past staging. */
  | 'all-staged';

export interface BundleNeed {
  readonly needed: boolean;
  readonly reason: BundleNeedReason;
  /** Node entries in phase Staging. */
  readonly staging: number;
  /** Node entries in phase Pending (or without a phase). */
  readonly pending: number;
}

/**
 * Whether a node of `update` may still download its bundle. Not any more once the rollout is
 * over or every node entry is past Staging. A paused update still needs it: its Pending nodes
 * stage once it is resumed.
 */
export function bundleStillNeeded(update: OSUpdate): BundleNeed {
  const status = update.status ?? {};
  const nodes = status.nodes ?? [];
  const staging = nodes.filter((node) => node.phase === 'Staging').length;
  const pending = nodes.filter((node) => (node.phase ?? 'Pending') === 'Pending').length;
  const need = (needed: boolean, reason: BundleNeedReason): BundleNeed => ({
    needed,
    reason,
    staging,
    pending,
  });
  const { generation } = update.metadata;
  const observed = status.observedGeneration;
  if (generation !== undefined && observed !== undefined && observed < generation) {
    return need(true, 'status-outdated');
  }
  if (isTerminalOSUpdatePhase(status.phase)) return need(false, 'finished');
  if (nodes.length === 0) return need(true, 'not-started');
  if (staging + pending === 0) return need(false, 'all-staged');
  return need(true, 'nodes-to-stage');
}

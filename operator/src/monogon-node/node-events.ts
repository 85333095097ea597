// Which Kubernetes Events a MonogonNode status transition deserves. Derived from the written
// status (before -> after) rather than from what happened in memory, so a restarted or new
// leader never repeats an event for a transition that is already on record.
import type { MonogonNodeStatus } from '@metropolis/api';
import type { NodeEvent } from '../kube/event-recorder.js';
import { conditionTypes } from './node-status.js';
import { findCondition } from '../kube/set-condition.js';

/** The events for a status that went from `before` to `after`, in a stable order. */
export function nodeEvents(before: MonogonNodeStatus, after: MonogonNodeStatus): NodeEvent[] {
  const events: NodeEvent[] = [];
  if (after.state !== before.state) {
    if (after.state === 'UP') {
      events.push({
        type: 'Normal',
        reason: 'NodeUp',
        action: 'Admit',
        note: `The node agent reports over mTLS: version ${after.version ?? 'unknown'}, slot ${after.bootedSlot ?? 'unknown'}.`,
      });
    } else if (after.state === 'STANDBY') {
      events.push({
        type: 'Normal',
        reason: 'NodeApproved',
        action: 'Admit',
        note: 'The node is approved; waiting for its agent to report.',
      });
    }
  }
  const healthEvent = healthTransition(before, after);
  if (healthEvent !== undefined) events.push(healthEvent);
  const versionChanged = before.version !== undefined && after.version !== before.version;
  if (versionChanged) {
    // An update changes both: one event says it.
    events.push({
      type: 'Normal',
      reason: 'VersionChanged',
      action: 'Observe',
      note: `The node runs version ${after.version ?? 'unknown'} (was ${before.version ?? 'unknown'}) from slot ${after.bootedSlot ?? 'unknown'}${before.bootedSlot === undefined || before.bootedSlot === after.bootedSlot ? '' : ` (was ${before.bootedSlot})`}.`,
    });
  } else if (before.bootedSlot !== undefined && after.bootedSlot !== before.bootedSlot) {
    events.push({
      type: 'Normal',
      reason: 'SlotChanged',
      action: 'Observe',
      note: `The node booted from slot ${after.bootedSlot ?? 'unknown'} (was ${before.bootedSlot}).`,
    });
  }
  const rolesEvent = rolesTransition(before, after);
  if (rolesEvent !== undefined) events.push(rolesEvent);
  return events;
}

function healthTransition(
  before: MonogonNodeStatus,
  after: MonogonNodeStatus,
): NodeEvent | undefined {
  if (after.health === before.health) return undefined;
  switch (after.health) {
    case 'HEARTBEAT_TIMEOUT':
      return {
        type: 'Warning',
        reason: 'HeartbeatLost',
        action: 'Heartbeat',
        note:
          findCondition(after.conditions, conditionTypes.heartbeat)?.message ??
          'No status from the node agent within the heartbeat timeout.',
      };
    case 'UNHEALTHY':
      return {
        type: 'Warning',
        reason: 'NodeUnhealthy',
        action: 'Heartbeat',
        note:
          findCondition(after.conditions, conditionTypes.ready)?.message ??
          'The node agent reports unhealthy.',
      };
    case 'HEALTHY':
      // From UNKNOWN (a node coming up) NodeUp says it all.
      if (before.health === 'HEARTBEAT_TIMEOUT') {
        return {
          type: 'Normal',
          reason: 'HeartbeatRestored',
          action: 'Heartbeat',
          note: 'The node agent streams its status again and reports healthy.',
        };
      }
      return before.health === 'UNHEALTHY'
        ? {
            type: 'Normal',
            reason: 'NodeHealthy',
            action: 'Heartbeat',
            note: 'The node agent reports healthy again.',
          }
        : undefined;
    default:
      return undefined;
  }
}

function rolesTransition(
  before: MonogonNodeStatus,
  after: MonogonNodeStatus,
): NodeEvent | undefined {
  const was = findCondition(before.conditions, conditionTypes.rolesApplied);
  const now = findCondition(after.conditions, conditionTypes.rolesApplied);
  if (now === undefined || (was?.status === now.status && was.reason === now.reason)) {
    return undefined;
  }
  if (now.reason === 'NotBuilt' || now.reason === 'ApplyFailed') {
    return { type: 'Warning', reason: 'RolesNotApplied', action: 'ApplyRoles', note: now.message };
  }
  // Only after a failure or a change in progress; not when the first report shows them.
  if (now.status === 'True' && was?.status === 'False') {
    return { type: 'Normal', reason: 'RolesApplied', action: 'ApplyRoles', note: now.message };
  }
  return undefined;
}

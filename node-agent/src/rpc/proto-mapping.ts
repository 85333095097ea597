// Domain views to generated protobuf messages, and slot enums in both directions.
import { formatBootId } from '@metropolis/efi';
import {
  Health,
  Slot as ProtoSlot,
  StageUpdateProgress_Phase as Phase,
  type BootState,
  type NodeStatus,
  type StageUpdateProgress,
} from '@metropolis/api';
import { AgentError } from '../errors.js';
import type { BootStateView } from '../slots/slot-manager.js';
import type { Slot } from '../slots/slot.js';
import type { NodeStatusView } from '../status/status-service.js';
import type { StageProgress } from '../update/stager.js';

export function slotToProto(slot: Slot | undefined): ProtoSlot {
  if (slot === undefined) return ProtoSlot.SLOT_UNSPECIFIED;
  return slot === 'A' ? ProtoSlot.SLOT_A : ProtoSlot.SLOT_B;
}

export function slotFromProto(slot: ProtoSlot): Slot {
  if (slot === ProtoSlot.SLOT_A) return 'A';
  if (slot === ProtoSlot.SLOT_B) return 'B';
  throw new AgentError('AGENT_INVALID_ARGUMENT', 'slot must be SLOT_A or SLOT_B');
}

export function bootStateToProto(
  boot: BootStateView,
  trialDeadlineMs: number | undefined,
): BootState {
  return {
    runningSlot: slotToProto(boot.runningSlot),
    nextSlot: slotToProto(boot.nextSlot),
    bootOrder: boot.bootOrder.map(slotToProto),
    trial: boot.trial,
    trialDeadlineUnixMs: trialDeadlineMs ?? 0,
    slots: boot.slots.map((view) => ({
      slot: slotToProto(view.slot),
      version: view.version,
      bootEntry: view.bootEntry === undefined ? '' : formatBootId(view.bootEntry),
      bootEntryActive: view.active,
    })),
    bootCurrent: boot.bootCurrent === null ? '' : formatBootId(boot.bootCurrent),
  };
}

export function statusToProto(view: NodeStatusView): NodeStatus {
  return {
    nodeId: view.nodeId,
    version: view.version,
    boot: bootStateToProto(view.boot, view.trialDeadlineMs),
    health: view.health.healthy ? Health.HEALTH_HEALTHY : Health.HEALTH_UNHEALTHY,
    healthMessage: view.health.message,
    roles: [...view.roles],
    appliedRoles: [...view.appliedRoles],
    bootTimeUnixMs: view.bootTimeMs,
    timestampUnixMs: view.timestampMs,
    address: view.address,
    healthChecks: view.healthChecks.map((check) => ({
      name: check.name,
      ok: check.ok,
      sinceUnixMs: check.sinceMs,
      message: check.message,
    })),
  };
}

const phases = {
  downloading: Phase.PHASE_DOWNLOADING,
  'writing-slot': Phase.PHASE_WRITING_SLOT,
  'writing-loader': Phase.PHASE_WRITING_LOADER,
  done: Phase.PHASE_DONE,
} as const;

export function progressToProto(progress: StageProgress): StageUpdateProgress {
  return {
    phase: phases[progress.phase],
    bytesDone: progress.bytesDone,
    bytesTotal: progress.bytesTotal,
    version: progress.version,
    slot: slotToProto(progress.slot),
  };
}

// One NodeStatus message from a node agent, translated at the gRPC edge into the operator's words
// (slots A/B, health, roles), so neither reconciler ever sees protobuf enums.
import {
  Health,
  Slot,
  roleNamed,
  sortRoles,
  type MonogonNodeRole,
  type MonogonNodeSlot,
  type NodeStatus,
} from '@metropolis/api';

/** What a node agent said about itself in one status message. */
export interface AgentReport {
  readonly nodeId: string;
  readonly version: string;
  /** The slot the running system booted from; undefined if the agent could not tell. */
  readonly bootedSlot: MonogonNodeSlot | undefined;
  /** Our two slots in BootOrder order: the first is where the node boots without BootNext. */
  readonly bootOrder: readonly MonogonNodeSlot[];
  /** Where EFI BootNext points; undefined when it is not set. */
  readonly nextSlot: MonogonNodeSlot | undefined;
  /** The running slot is not committed: the agent's watchdog reboots unless CommitBoot comes. */
  readonly trial: boolean;
  /** The version each slot's loader carries ("" for nothing bootable). */
  readonly slotVersions: { readonly [S in MonogonNodeSlot]: string };
  readonly health: 'HEALTHY' | 'UNHEALTHY' | 'UNKNOWN';
  /** Why the node is unhealthy (its failing checks); empty when healthy. */
  readonly healthMessage: string;
  /** Every health check the agent ran, in its order; health is their conjunction. */
  readonly healthChecks: readonly AgentHealthCheck[];
  /** Roles running now, sorted; names this operator does not know are in `unknownRoles`. */
  readonly roles: readonly MonogonNodeRole[];
  readonly unknownRoles: readonly string[];
  /** Roles recorded on the node by the last ApplyRoles, running or not, sorted. */
  readonly appliedRoles: readonly MonogonNodeRole[];
  /** When the agent started: a new value means the node rebooted. */
  readonly bootTimeMs: number;
}

/** One of the agent's health checks. */
export interface AgentHealthCheck {
  readonly name: string;
  readonly ok: boolean;
  /** When it last turned ok or failing, by the node's clock. */
  readonly sinceMs: number;
  readonly message: string;
}

/** Translates a NodeStatus message. */
export function agentReport(status: NodeStatus): AgentReport {
  const roles: MonogonNodeRole[] = [];
  const unknownRoles: string[] = [];
  for (const role of status.roles) {
    const known = roleNamed(role);
    if (known === undefined) unknownRoles.push(role);
    else roles.push(known);
  }
  const appliedRoles = status.appliedRoles
    .map((role) => roleNamed(role))
    .filter((role) => role !== undefined);
  const bootOrder = (status.boot?.bootOrder ?? [])
    .map(slotName)
    .filter((slot) => slot !== undefined);
  const slotVersion = (slot: Slot): string =>
    status.boot?.slots.find((info) => info.slot === slot)?.version ?? '';
  return {
    nodeId: status.nodeId,
    version: status.version,
    bootedSlot: slotName(status.boot?.runningSlot ?? Slot.SLOT_UNSPECIFIED),
    bootOrder,
    nextSlot: slotName(status.boot?.nextSlot ?? Slot.SLOT_UNSPECIFIED),
    trial: status.boot?.trial ?? false,
    slotVersions: { A: slotVersion(Slot.SLOT_A), B: slotVersion(Slot.SLOT_B) },
    health: healthName(status.health),
    healthMessage: status.healthMessage,
    healthChecks: status.healthChecks.map((check) => ({
      name: check.name,
      ok: check.ok,
      sinceMs: check.sinceUnixMs,
      message: check.message,
    })),
    roles: sortRoles(roles),
    unknownRoles,
    appliedRoles: sortRoles(appliedRoles),
    bootTimeMs: status.bootTimeUnixMs,
  };
}

function slotName(slot: Slot): MonogonNodeSlot | undefined {
  switch (slot) {
    case Slot.SLOT_A:
      return 'A';
    case Slot.SLOT_B:
      return 'B';
    default:
      return undefined;
  }
}

function healthName(health: Health): AgentReport['health'] {
  switch (health) {
    case Health.HEALTH_HEALTHY:
      return 'HEALTHY';
    case Health.HEALTH_UNHEALTHY:
      return 'UNHEALTHY';
    default:
      return 'UNKNOWN';
  }
}

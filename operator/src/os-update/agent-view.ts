// A node agent's GetStatus answer in the rollout's words: which slot runs, where BootNext and
// BootOrder point, what each slot carries, and whether the node's roles serve.
import {
  Health,
  Slot,
  type MonogonNodeRole,
  type NodeStatus,
  type OSUpdateSlot,
} from '@metropolis/api';
import type { EtcdView } from '../consensus/etcd-view.js';

/** What a reachable node agent reports now. */
export interface AgentView {
  readonly version: string;
  /** When the running boot started (the agent's clock): a new value means the node rebooted. */
  readonly bootTimeMs: number;
  readonly runningSlot: OSUpdateSlot;
  /** The first of our slots in BootOrder: where the node boots without BootNext. */
  readonly committedSlot: OSUpdateSlot | undefined;
  /** Where EFI BootNext points; undefined when it is not set. */
  readonly nextSlot: OSUpdateSlot | undefined;
  /** The running slot is not committed: the agent's watchdog reboots unless CommitBoot comes. */
  readonly trial: boolean;
  /** The version each slot's loader carries ("" for nothing bootable). */
  readonly slots: { readonly [S in OSUpdateSlot]: { readonly version: string } };
  readonly healthy: boolean;
  readonly healthMessage: string;
  /** Every role the node should run serves (etcd member voting and healthy, apiserver ready). */
  readonly rolesServing: boolean;
}

/**
 * `status` as the planner reads it. Roles serve when the agent reports every role of
 * `specRoles` it can run as running, and a consensus member is also healthy in `etcd`.
 */
export function agentView(
  nodeId: string,
  status: NodeStatus,
  specRoles: readonly MonogonNodeRole[],
  etcd: EtcdView | undefined,
): AgentView {
  const boot = status.boot;
  const slotOf = (slot: Slot | undefined): OSUpdateSlot | undefined =>
    slot === Slot.SLOT_A ? 'A' : slot === Slot.SLOT_B ? 'B' : undefined;
  const version = (slot: OSUpdateSlot): string =>
    boot?.slots.find((info) => slotOf(info.slot) === slot)?.version ?? '';
  // KubernetesWorker is not built: no node runs it, so it cannot be waited for.
  const servable = specRoles.filter((role) => role !== 'KubernetesWorker');
  const running = servable.every((role) => status.roles.includes(role));
  const member = etcd?.members.find((candidate) => candidate.name === nodeId);
  const etcdHealthy = !specRoles.includes('ConsensusMember') || member?.healthy === true;
  return {
    version: status.version,
    bootTimeMs: status.bootTimeUnixMs,
    runningSlot: slotOf(boot?.runningSlot) ?? 'A',
    committedSlot: slotOf(boot?.bootOrder[0]),
    nextSlot: slotOf(boot?.nextSlot),
    trial: boot?.trial ?? false,
    slots: { A: { version: version('A') }, B: { version: version('B') } },
    healthy: status.health === Health.HEALTH_HEALTHY,
    healthMessage: status.healthMessage,
    rolesServing: running && etcdHealthy,
  };
}

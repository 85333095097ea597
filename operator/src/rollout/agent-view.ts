// A node agent's GetStatus answer in the rollout's words: which slot runs, where BootNext and
// BootOrder point, what each slot carries, and whether the node's roles serve.
import {
  Health,
  Slot,
  type MonogonNodeRole,
  type NodeStatus,
  type OSUpdateSlot,
} from '@metropolis/api';
import type { EtcdView } from './disruption-budget.js';
import type { AgentView } from './rollout-planner.js';

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

// A node agent's latest report in the rollout's words: which slot runs, where BootNext and
// BootOrder point, what each slot carries, and whether the node's roles serve.
import type { MonogonNodeRole, OSUpdateSlot } from '@metropolis/api';
import type { EtcdView } from '../consensus/etcd-view.js';
import type { AgentReport } from '../node-client/agent-report.js';

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
 * `report` as the planner reads it. Roles serve when the agent reports every role of
 * `specRoles` it can run as running, and a consensus member is also healthy in `etcd`.
 */
export function agentView(
  nodeId: string,
  report: AgentReport,
  specRoles: readonly MonogonNodeRole[],
  etcd: EtcdView | undefined,
): AgentView {
  // KubernetesWorker is not built: no node runs it, so it cannot be waited for.
  const servable = specRoles.filter((role) => role !== 'KubernetesWorker');
  const running = servable.every((role) => report.roles.includes(role));
  const member = etcd?.members.find((candidate) => candidate.name === nodeId);
  const etcdHealthy = !specRoles.includes('ConsensusMember') || member?.healthy === true;
  return {
    version: report.version,
    bootTimeMs: report.bootTimeMs,
    runningSlot: report.bootedSlot ?? 'A',
    committedSlot: report.bootOrder[0],
    nextSlot: report.nextSlot,
    trial: report.trial,
    slots: { A: { version: report.slotVersions.A }, B: { version: report.slotVersions.B } },
    healthy: report.health === 'HEALTHY',
    healthMessage: report.healthMessage,
    rolesServing: running && etcdHealthy,
  };
}

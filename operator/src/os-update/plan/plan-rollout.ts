// The decision core of the OSUpdate rollout: from one snapshot (the object, its selected nodes as
// their agents report them, etcd's members, the engine's in-memory facts) to the complete new
// status and the effects to perform now. No I/O, no clock: the engine does both.
import type { OSUpdateCondition, OSUpdateStatus } from '@metropolis/api';
import { rfc3339 } from '../../kube/rfc3339.js';
import { findCondition, setCondition } from '../../kube/set-condition.js';
import {
  type RolloutInput,
  type RolloutAction,
  type RolloutPlan,
  rolloutConditionTypes,
} from './rollout-types.js';
import {
  type Context,
  type NodeWork,
  phaseOf,
  isFailure,
  pendingEntry,
  compareNames,
} from './node-work.js';
import { observe } from './observe-steps.js';
import {
  startOrHold,
  scheduleReboots,
  scheduleReverts,
  restoreCommitted,
} from './schedule-steps.js';
import {
  rolloutPhase,
  countNodes,
  failureHeadline,
  summarize,
  rolloutConditions,
} from './rollout-summary.js';

/**
 * The new status and actions for one snapshot.
 *
 * Per node: Pending -> Staging -> Staged -> Rebooting -> Verifying -> Committed, or RolledBack
 * (came back on its old slot) / Failed (StageFailed, BootTimeout, HealthTimeout, CommitTimeout,
 * WrongVersion). With failurePolicy Revert, Committed -> Reverting -> Reverted. Every entry that
 * does not progress carries a reason and a message saying why.
 *
 * Resumability: the status is the only memory. A reboot is emitted in the same plan whose
 * status records the node as Rebooting (bootTimeBeforeReboot, rebootRequestedAt), and the engine
 * writes that status before calling the agent. A later plan that finds the node on the same boot
 * emits the reboot again with the same expectedBootTimeMs: the agent refuses a reboot meant for
 * another boot and ignores a second while one is under way, so a node reboots once per step.
 *
 * Decisions the issue leaves open:
 * - In-flight steps finish whatever else happens: a recorded reboot is still delivered, and a
 *   node that came back is verified and committed even when paused or halted (leaving it in
 *   trial would make its watchdog reboot it). Paused and failed only stop new steps.
 * - A node whose boot time changed but still runs its old slot with BootNext still pointing at
 *   the new one never booted through the firmware (UEFI deletes BootNext before it boots the
 *   option): its agent restarted. That is not a rollback; the reboot is asked again, for the new
 *   boot, within the same bootTimeout.
 * - healthTimeout runs from the node's new boot time (never before rebootRequestedAt), capped at
 *   rebootRequestedAt + bootTimeout + healthTimeout; it also bounds a healthy node's commit
 *   (CommitTimeout).
 * - No node reboots while any node is Staging, so a bad bundle is found before any disruption.
 *   A node that is unhealthy, in a trial boot, or with BootNext set by someone else waits.
 * - Tiers (workers, controllers, consensus members): a tier starts only when no node of an
 *   earlier tier is being updated or waits only for budget, quorum or order.
 * - A failure is sticky (the Failed condition): nothing new starts, also after spec changes. The
 *   target (version, bundle) is meant to be immutable; to retry, create a new OSUpdate.
 * - Revert goes one node at a time, in reverse rollout order, within etcd quorum but not counting
 *   other unavailable nodes (a failed node would otherwise block the revert for good). A node
 *   already on toVersion before the update (AlreadyUpToDate) is not reverted. A revert that fails
 *   halts the revert (phase Halted).
 * - Entries of nodes no longer selected are dropped.
 */
export function planRollout(input: RolloutInput): RolloutPlan {
  const { update, nowMs } = input;
  const previous = update.status;
  const generation = update.metadata.generation;
  const now = rfc3339(nowMs);

  const events: RolloutAction[] = [];
  const ctx: Context = {
    input,
    strategy: update.rollout,
    nowMs,
    now,
    paused: update.spec.paused,
    toVersion: update.spec.version,
    effects: [],
    events,
    deadlines: [],
  };
  const previousEntries = new Map((previous.nodes ?? []).map((entry) => [entry.node, entry]));
  const works: NodeWork[] = input.nodes
    .filter((view) => view.state !== 'NEW' && view.state !== 'DECOMMISSIONED')
    .sort((a, b) => compareNames(a.name, b.name))
    .map((view) => {
      const before = previousEntries.get(view.name);
      return { view, before, entry: before ?? pendingEntry(view.name, ctx.toVersion) };
    });

  // Pass 1: what happened to steps under way (stage results, reboots, verification).
  const results = new Map(input.stageResults.map((result) => [result.node, result]));
  for (const work of works) observe(work, ctx, results);

  const previousFailure = findCondition(previous.conditions, rolloutConditionTypes.failed);
  const failed = previousFailure?.status === 'True' || works.some(isFailure);
  const reverting = failed && ctx.strategy.failurePolicy === 'Revert';

  // Pass 2: new steps, or why not.
  for (const work of works) startOrHold(work, ctx, failed);
  scheduleReboots(works, ctx, failed);
  if (reverting) scheduleReverts(works, ctx);
  else for (const work of works) if (work.entry.phase === 'Committed') restoreCommitted(work);

  // Pass 3: the rollout as a whole.
  const phase = rolloutPhase(works, ctx, failed);
  const failure = failureHeadline(works, previousFailure);
  const summary = summarize(phase, works, ctx, failure);
  const counts = countNodes(works);
  const blocked = works.filter(
    (work) =>
      (phaseOf(work) === 'Pending' || phaseOf(work) === 'Staged') &&
      input.claims.has(work.view.name),
  );
  let conditions: OSUpdateCondition[] = previous.conditions ?? [];
  for (const condition of rolloutConditions(
    phase,
    summary,
    works,
    failure,
    blocked,
    input.claims,
  )) {
    conditions = setCondition(conditions, condition, now, generation);
  }
  if (previous.phase !== phase && !(previous.phase === undefined && phase === 'Pending')) {
    events.push({
      kind: 'event',
      type:
        phase === 'Halted' || phase === 'Reverting' || phase === 'Reverted' ? 'Warning' : 'Normal',
      reason: `Rollout${phase}`,
      message: summary,
    });
  }
  const wasBlocked = findCondition(previous.conditions, rolloutConditionTypes.blocked);
  const isBlocked = findCondition(conditions, rolloutConditionTypes.blocked);
  if (isBlocked?.status === 'True' && wasBlocked?.status !== 'True') {
    events.push({
      kind: 'event',
      type: 'Normal',
      reason: 'RolloutBlocked',
      message: isBlocked.message,
    });
  }

  const status: OSUpdateStatus = {
    observedGeneration: generation,
    phase,
    summary,
    updated: `${String(counts.committed)}/${String(counts.total)}`,
    counts,
    nodes: works.map((work) => work.entry),
    conditions,
  };
  const future = ctx.deadlines.filter((time) => time > nowMs);
  return {
    status,
    actions: [...ctx.effects, ...events],
    nextCheckAtMs: future.length === 0 ? undefined : Math.min(...future),
  };
}

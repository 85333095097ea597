// Pass 2 of a plan: new steps, or why not. Staging, reboots within budget, order and quorum,
// and reverts one node at a time.
import type { OSUpdateSlot } from '@metropolis/api';
import { rfc3339 } from '../../kube/rfc3339.js';
import { maxUnavailableNodes } from '../os-update-resource.js';
import {
  disruptionBudget,
  isConsensusMember,
  quorumCheck,
  rolloutOrder,
  rolloutTier,
  rolloutTiers,
  type RolloutTier,
} from '../disruption-budget.js';
import {
  type Context,
  type NodeWork,
  phaseOf,
  isDisrupting,
  isRevertFailure,
  pendingEntry,
  transition,
  hold,
  reachable,
  isAvailable,
  unavailability,
  otherSlot,
  isoMs,
} from './node-work.js';
import { type StepKind, updateStep, revertStep } from './observe-steps.js';
import { describeNodes } from './rollout-summary.js';

/** Pending and Staging nodes: start (or restart) staging, or say why not. */
export function startOrHold(work: NodeWork, ctx: Context, failed: boolean): void {
  const { view } = work;
  if (phaseOf(work) === 'Staging') {
    if (ctx.input.staging.has(view.name)) {
      if (work.entry.reason !== 'StageRetrying') {
        hold(
          work,
          'Staging',
          `Writing ${work.entry.toVersion ?? ctx.toVersion} into slot ${work.entry.toSlot ?? '?'}.`,
        );
      }
      return;
    }
    if (!failed && !ctx.paused && reachable(view)) {
      // Nothing in flight here (a restarted operator, or a transient failure): stage again; it
      // only ever writes the inactive slot, which nothing boots.
      ctx.effects.push({ kind: 'stage', node: view.name });
      return;
    }
    work.entry = pendingEntry(view.name, work.entry.toVersion ?? ctx.toVersion);
  }
  if (phaseOf(work) !== 'Pending') return;

  if (failed) {
    hold(work, 'RolloutFailed', `${failedRolloutText(ctx)} This node was not touched.`);
    return;
  }
  if (ctx.paused) {
    hold(work, 'Paused', 'spec.paused is set; staging starts when it is cleared.');
    return;
  }
  const claim = ctx.input.claims.get(view.name);
  if (claim !== undefined) {
    hold(work, 'WaitingForOtherUpdate', claimText(claim));
    return;
  }
  if (!reachable(view)) {
    hold(work, 'NodeUnavailable', `${unavailability(view)} It is staged once it answers.`);
    return;
  }
  const { agent } = view;
  if (
    agent.version === ctx.toVersion &&
    agent.committedSlot === agent.runningSlot &&
    !agent.trial
  ) {
    transition(
      work,
      ctx,
      'Committed',
      'AlreadyUpToDate',
      `Already runs ${ctx.toVersion} from slot ${agent.runningSlot}, committed: nothing to do.`,
      {
        fromVersion: agent.version,
        toVersion: ctx.toVersion,
        fromSlot: agent.runningSlot,
        toSlot: agent.runningSlot,
        startedAt: ctx.now,
        finishedAt: ctx.now,
      },
    );
    return;
  }
  if (agent.trial) {
    hold(
      work,
      'NodeInTrial',
      `The node runs slot ${agent.runningSlot} on trial (not committed); it is staged once that boot is committed or falls back.`,
    );
    return;
  }
  // A BootNext at the slot to be staged is stale (a reboot that never happened): the agent
  // drops it and disables the entry before it writes, so staging is safe either way.
  const toSlot = otherSlot(agent.runningSlot);
  transition(work, ctx, 'Staging', 'Staging', `Writing ${ctx.toVersion} into slot ${toSlot}.`, {
    fromVersion: agent.version,
    toVersion: ctx.toVersion,
    fromSlot: agent.runningSlot,
    toSlot,
    startedAt: ctx.now,
  });
  ctx.effects.push({ kind: 'stage', node: view.name });
}

function claimText(claim: string): string {
  return `OSUpdate ${claim} also selects this node and came first (or is working on it); this node waits until it is done.`;
}

function failedRolloutText(ctx: Context): string {
  return ctx.strategy.failurePolicy === 'Revert'
    ? 'The rollout failed and is reverted.'
    : 'The rollout halted after a failure.';
}

/** Staged nodes: reboot into the staged slot as budget, order and quorum allow. */
export function scheduleReboots(works: readonly NodeWork[], ctx: Context, failed: boolean): void {
  const staged = works.filter((work) => phaseOf(work) === 'Staged');
  if (staged.length === 0) return;
  const disrupting = works.filter(isDisrupting);
  const unavailable = works.filter((work) => !isDisrupting(work) && !isAvailable(work.view));
  const maxUnavailable = maxUnavailableNodes(ctx.strategy.maxUnavailable, works.length);
  let budget = disruptionBudget({
    maxUnavailable,
    disrupting: disrupting.length,
    unavailable: unavailable.length,
  });
  // Built when needed: nodes started in this very pass count as being updated.
  const budgetText = (): string =>
    `maxUnavailable is ${String(maxUnavailable)}: ${describeNodes(works.filter(isDisrupting), 'being updated')}, ${describeNodes(unavailable, 'unavailable for other reasons')}.`;
  let consensusBusy = disrupting.find((work) => isConsensusMember(work.view.specRoles))?.view.name;
  const outstanding = new Set<RolloutTier>(
    disrupting.map((work) => rolloutTier(work.view.specRoles)),
  );
  const staging = works.filter((work) => phaseOf(work) === 'Staging').length;

  const ordered = rolloutOrder(
    staged.map((work) => ({ name: work.view.name, specRoles: work.view.specRoles, work })),
    ctx.input.operatorNode,
  );
  for (const { work } of ordered) {
    const { view, entry } = work;
    if (failed) {
      hold(
        work,
        'RolloutFailed',
        `${failedRolloutText(ctx)} This node stays staged; its staged slot is inert.`,
      );
      continue;
    }
    if (ctx.paused) {
      hold(work, 'Paused', 'spec.paused is set; no node reboots until it is cleared.');
      continue;
    }
    const own = stagedBlocker(work, ctx);
    if (own !== undefined) {
      hold(work, own.reason, own.message);
      continue;
    }
    if (staging > 0) {
      hold(
        work,
        'WaitingForStaging',
        `${String(staging)} node(s) still staging; no node reboots before every reachable node has staged, so a bad bundle shows before any disruption.`,
      );
      continue;
    }
    const tier = rolloutTier(view.specRoles);
    const earlier = rolloutTiers
      .slice(0, rolloutTiers.indexOf(tier))
      .find((t) => outstanding.has(t));
    outstanding.add(tier);
    if (earlier !== undefined) {
      hold(
        work,
        earlier === 'worker' ? 'WaitingForWorkers' : 'WaitingForControllers',
        `${earlier === 'worker' ? 'Workers' : 'Controllers'} are updated before ${tier === 'controller' ? 'controllers' : 'consensus members'}, and some are not done.`,
      );
      continue;
    }
    const consensus = isConsensusMember(view.specRoles);
    if (consensus && consensusBusy !== undefined) {
      hold(
        work,
        'WaitingForConsensusMember',
        `${consensusBusy} runs an etcd member too and is being updated; etcd members go one at a time.`,
      );
      continue;
    }
    if (budget === 0) {
      hold(work, 'WaitingForBudget', budgetText());
      continue;
    }
    if (consensus) {
      const quorum = quorumCheck(ctx.input.etcd, view.name);
      if (!quorum.ok) {
        hold(work, 'WaitingForQuorum', `${quorum.message}.`);
        continue;
      }
      consensusBusy = view.name;
    }
    budget -= 1;
    startReboot(work, ctx, updateStep, entry.toSlot, entry.toVersion);
  }
}

/** Why this staged node cannot reboot now, whatever the others do. */
function stagedBlocker(
  work: NodeWork,
  ctx: Context,
): { reason: string; message: string } | undefined {
  const { view, entry } = work;
  const claim = ctx.input.claims.get(view.name);
  if (claim !== undefined) {
    return { reason: 'WaitingForOtherUpdate', message: claimText(claim) };
  }
  if (!reachable(view)) return { reason: 'NodeUnavailable', message: unavailability(view) };
  const { agent } = view;
  if (agent.trial) {
    return {
      reason: 'NodeInTrial',
      message: `The node runs slot ${agent.runningSlot} on trial (not committed); it reboots once that is settled.`,
    };
  }
  if (agent.nextSlot !== undefined) {
    return {
      reason: 'BootNextPending',
      message: `BootNext points to slot ${agent.nextSlot}, set by someone else.`,
    };
  }
  const toSlot = entry.toSlot ?? otherSlot(agent.runningSlot);
  if (agent.slots[toSlot].version !== entry.toVersion) {
    return {
      reason: 'SlotNotStaged',
      message: `The node agent reports ${agent.slots[toSlot].version === '' ? 'nothing' : agent.slots[toSlot].version} in slot ${toSlot}, not the staged ${entry.toVersion ?? '?'}.`,
    };
  }
  if (!isAvailable(view))
    return {
      reason: 'NodeUnhealthy',
      message: `${unavailability(view)} Only healthy nodes are updated.`,
    };
  return undefined;
}

/** Records the reboot in the entry and emits it: the engine writes the entry first. */
function startReboot(
  work: NodeWork,
  ctx: Context,
  step: StepKind,
  slot: OSUpdateSlot | undefined,
  version: string | undefined,
): void {
  const { agent } = work.view;
  if (agent === undefined || slot === undefined) return;
  const deadline = Date.parse(ctx.now) + ctx.strategy.bootTimeoutMs;
  ctx.deadlines.push(deadline);
  // A new boot: why an earlier one was unhealthy (an update's, before a revert) says nothing of it.
  const entry = { ...work.entry };
  delete entry.unhealthyOnTarget;
  work.entry = entry;
  transition(
    work,
    ctx,
    step.rebooting,
    step.reasons.requested,
    `Asked at ${ctx.now} to boot slot ${slot} (${version ?? '?'}); waiting for it to answer from there until ${rfc3339(deadline)}.`,
    { bootTimeBeforeReboot: isoMs(agent.bootTimeMs), rebootRequestedAt: ctx.now },
  );
  ctx.effects.push({
    kind: 'reboot',
    node: work.view.name,
    slot,
    expectedBootTimeMs: agent.bootTimeMs,
  });
}

/** failurePolicy Revert: committed nodes back to their previous slot, one at a time. */
export function scheduleReverts(works: readonly NodeWork[], ctx: Context): void {
  const revertible = (work: NodeWork): boolean =>
    phaseOf(work) === 'Committed' &&
    work.entry.fromSlot !== undefined &&
    work.entry.fromSlot !== work.entry.toSlot;
  const candidates = rolloutOrder(
    works
      .filter(revertible)
      .map((work) => ({ name: work.view.name, specRoles: work.view.specRoles, work })),
    ctx.input.operatorNode,
  ).reverse();
  let busy = works.find(isDisrupting)?.view.name;
  let stopped = works.find(isRevertFailure)?.view.name;
  for (const { work } of candidates) {
    const { view, entry } = work;
    const { fromSlot } = entry;
    if (fromSlot === undefined) continue; // not revertible, filtered above
    const back = `slot ${fromSlot} (${entry.fromVersion ?? '?'})`;
    if (stopped !== undefined) {
      hold(
        work,
        'RevertHalted',
        `Reverting stopped after ${stopped} failed to revert; this node stays on ${entry.toVersion ?? '?'}.`,
      );
      continue;
    }
    if (ctx.paused) {
      hold(
        work,
        'Paused',
        `spec.paused is set; this node goes back to ${back} when it is cleared.`,
      );
      continue;
    }
    if (busy !== undefined) {
      hold(
        work,
        'WaitingForRevert',
        `Goes back to ${back}; nodes are reverted one at a time and ${busy} is under way.`,
      );
      continue;
    }
    if (!reachable(view)) {
      hold(
        work,
        'NodeUnavailable',
        `${unavailability(view)} It goes back to ${back} once it answers.`,
      );
      continue;
    }
    const { agent } = view;
    if (
      agent.runningSlot === fromSlot &&
      agent.committedSlot === fromSlot &&
      agent.version === entry.fromVersion
    ) {
      transition(
        work,
        ctx,
        'Reverted',
        'Reverted',
        `Runs ${entry.fromVersion} from slot ${fromSlot} again, committed.`,
        {
          finishedAt: ctx.now,
        },
      );
      continue;
    }
    const impossible =
      agent.runningSlot !== entry.toSlot || agent.committedSlot !== entry.toSlot || agent.trial
        ? `The node runs slot ${agent.runningSlot} (committed: ${agent.committedSlot ?? 'none'}), not the committed updated slot ${entry.toSlot ?? '?'}; the operator does not guess.`
        : agent.slots[fromSlot].version !== entry.fromVersion
          ? `Slot ${fromSlot} holds ${agent.slots[fromSlot].version || 'nothing'}, no longer ${entry.fromVersion ?? '?'}.`
          : undefined;
    if (impossible !== undefined) {
      transition(work, ctx, 'Failed', 'RevertImpossible', impossible, { finishedAt: ctx.now });
      stopped = view.name;
      continue;
    }
    if (isConsensusMember(view.specRoles)) {
      const quorum = quorumCheck(ctx.input.etcd, view.name);
      if (!quorum.ok) {
        hold(work, 'WaitingForQuorum', `${quorum.message}.`);
        continue;
      }
    }
    startReboot(work, ctx, revertStep, fromSlot, entry.fromVersion);
    busy = view.name;
  }
}

/** A committed node outside a revert says what it runs. */
export function restoreCommitted(work: NodeWork): void {
  const { entry } = work;
  if (entry.reason === 'AlreadyUpToDate') return;
  hold(
    work,
    'Updated',
    `Runs ${entry.toVersion ?? '?'} from slot ${entry.toSlot ?? '?'}, committed.`,
  );
}

// Pass 1 of a plan: what happened to the steps under way (stage results, reboots, verification
// and commit, for the update and for its revert).
import type { OSUpdateNodePhase, OSUpdateNodeStatus, OSUpdateSlot } from '@metropolis/api';
import { rfc3339 } from '../../kube/rfc3339.js';
import type { StageResult } from './rollout-types.js';
import {
  type Context,
  type NodeWork,
  pendingEntry,
  phaseOf,
  transition,
  emit,
  hold,
  reachable,
  isoMs,
  duration,
} from './node-work.js';

/** One node: how its stage call ended, and how its reboot, verification and commit go. */
export function observe(
  work: NodeWork,
  ctx: Context,
  results: ReadonlyMap<string, StageResult>,
): void {
  const { entry, view } = work;
  switch (phaseOf(work)) {
    case 'Staging': {
      const result = results.get(view.name);
      if (result === undefined) return;
      if (result.ok) {
        transition(
          work,
          ctx,
          'Staged',
          'Staged',
          `Slot ${entry.toSlot ?? '?'} holds ${entry.toVersion ?? '?'}; BootNext is not set, so it stays inert until this node's turn.`,
        );
      } else if (result.transient === true) {
        hold(work, 'StageRetrying', `Staging did not finish and is tried again: ${result.message}`);
      } else {
        transition(
          work,
          ctx,
          'Failed',
          'StageFailed',
          `The node agent refused the bundle: ${result.message}`,
          {
            finishedAt: ctx.now,
          },
        );
      }
      return;
    }
    case 'Staged': {
      const { agent } = view;
      if (
        agent !== undefined &&
        (agent.runningSlot !== entry.fromSlot || agent.version !== entry.fromVersion)
      ) {
        // Someone else changed the node since it was staged: what was staged may be gone.
        const message = `The node now runs ${agent.version} from slot ${agent.runningSlot}, not ${entry.fromVersion ?? '?'} from slot ${entry.fromSlot ?? '?'} as when it was staged; it starts over.`;
        work.entry = { ...pendingEntry(view.name, ctx.toVersion), reason: 'NodeChanged', message };
        emit(work, ctx, false, 'NodeChanged', message);
      }
      return;
    }
    case 'Rebooting':
    case 'Verifying':
      advanceStep(work, ctx, updateStep);
      return;
    case 'Reverting':
      advanceStep(work, ctx, revertStep);
      return;
    case 'Pending':
    case 'Committed':
    case 'RolledBack':
    case 'Failed':
    case 'Reverted':
      return;
  }
}

/** The words of one kind of disruptive step: the update itself, or its revert. */
export interface StepKind {
  readonly rebooting: OSUpdateNodePhase;
  readonly back: OSUpdateNodePhase;
  readonly done: OSUpdateNodePhase;
  readonly target: (entry: OSUpdateNodeStatus) => [OSUpdateSlot | undefined, string | undefined];
  readonly origin: (entry: OSUpdateNodeStatus) => OSUpdateSlot | undefined;
  /** Reasons: rebooting, back-and-waiting, committing, silent-after-back, done. */
  readonly reasons: {
    readonly requested: string;
    readonly repeated: string;
    readonly waitingForHealth: string;
    readonly committing: string;
    readonly silent: string;
    readonly done: string;
    readonly bootTimeout: string;
    readonly healthTimeout: string;
    readonly commitTimeout: string;
    readonly wrongVersion: string;
  };
  readonly cameBackOnOrigin: (work: NodeWork, ctx: Context, message: string) => void;
}

export const updateStep: StepKind = {
  rebooting: 'Rebooting',
  back: 'Verifying',
  done: 'Committed',
  target: (entry) => [entry.toSlot, entry.toVersion],
  origin: (entry) => entry.fromSlot,
  reasons: {
    requested: 'RebootRequested',
    repeated: 'RebootRepeated',
    waitingForHealth: 'WaitingForHealth',
    committing: 'Committing',
    silent: 'NodeSilent',
    done: 'Updated',
    bootTimeout: 'BootTimeout',
    healthTimeout: 'HealthTimeout',
    commitTimeout: 'CommitTimeout',
    wrongVersion: 'WrongVersion',
  },
  cameBackOnOrigin: (work, ctx, message) => {
    transition(work, ctx, 'RolledBack', 'CameBackOnOldSlot', message, { finishedAt: ctx.now });
  },
};

export const revertStep: StepKind = {
  rebooting: 'Reverting',
  back: 'Reverting',
  done: 'Reverted',
  target: (entry) => [entry.fromSlot, entry.fromVersion],
  origin: (entry) => entry.toSlot,
  reasons: {
    requested: 'RevertRebooting',
    repeated: 'RevertRebootRepeated',
    waitingForHealth: 'RevertWaitingForHealth',
    committing: 'RevertCommitting',
    silent: 'RevertNodeSilent',
    done: 'Reverted',
    bootTimeout: 'RevertBootTimeout',
    healthTimeout: 'RevertHealthTimeout',
    commitTimeout: 'RevertCommitTimeout',
    wrongVersion: 'RevertFailed',
  },
  cameBackOnOrigin: (work, ctx, message) => {
    transition(work, ctx, 'Failed', 'RevertFailed', message, { finishedAt: ctx.now });
  },
};

/** Follows a recorded reboot: not yet, back on the target, back on the origin, or too late. */
function advanceStep(work: NodeWork, ctx: Context, step: StepKind): void {
  const { entry, view } = work;
  const { reasons } = step;
  const [target, version] = step.target(entry);
  const origin = step.origin(entry);
  const bootTimeBefore = Date.parse(entry.bootTimeBeforeReboot ?? '');
  const requestedAtMs = Date.parse(entry.rebootRequestedAt ?? '');
  if (
    target === undefined ||
    version === undefined ||
    origin === undefined ||
    Number.isNaN(bootTimeBefore) ||
    Number.isNaN(requestedAtMs)
  ) {
    transition(
      work,
      ctx,
      'Failed',
      'StatusIncomplete',
      'The entry lacks its slots, versions or reboot times, so where the node is cannot be told; it is left alone.',
      { finishedAt: ctx.now },
    );
    return;
  }
  const { bootTimeoutMs, healthTimeoutMs } = ctx.strategy;
  const bootDeadline = requestedAtMs + bootTimeoutMs;
  const backDeadline = bootDeadline + healthTimeoutMs;
  const fail = (reason: string, message: string): void => {
    transition(work, ctx, 'Failed', reason, message, { finishedAt: ctx.now });
  };
  const bootTimedOut = (): void => {
    fail(
      reasons.bootTimeout,
      `Not back on slot ${target} within bootTimeout (${duration(bootTimeoutMs)}) of the reboot asked at ${entry.rebootRequestedAt ?? '?'}.`,
    );
  };
  const waiting = `Asked at ${entry.rebootRequestedAt ?? '?'} to boot slot ${target} (${version}); waiting for it to answer from there until ${rfc3339(bootDeadline)}.`;
  const agent = reachable(view) ? view.agent : undefined;

  if (agent === undefined) {
    const wasBack =
      entry.reason === reasons.waitingForHealth ||
      entry.reason === reasons.committing ||
      entry.reason === reasons.silent;
    if (wasBack) {
      if (ctx.nowMs >= backDeadline) {
        fail(
          reasons.healthTimeout,
          `Came back on slot ${target}, then stopped answering, and is not healthy by ${rfc3339(backDeadline)}.`,
        );
        return;
      }
      ctx.deadlines.push(backDeadline);
      hold(
        work,
        reasons.silent,
        `Came back on slot ${target}, then stopped answering; waiting until ${rfc3339(backDeadline)}.`,
      );
      return;
    }
    if (ctx.nowMs >= bootDeadline) {
      bootTimedOut();
      return;
    }
    ctx.deadlines.push(bootDeadline);
    if (entry.reason !== reasons.repeated) hold(work, reasons.requested, waiting);
    return;
  }

  if (agent.bootTimeMs === bootTimeBefore) {
    // Still the boot the reboot was meant for. Maybe the operator died between writing this
    // status and calling the agent: ask again, guarded by the same boot time.
    if (ctx.nowMs >= bootDeadline) {
      bootTimedOut();
      return;
    }
    ctx.deadlines.push(bootDeadline);
    if (entry.reason !== reasons.repeated) hold(work, reasons.requested, waiting);
    if (ctx.input.rebootsRequested?.get(view.name) !== bootTimeBefore) {
      ctx.effects.push({
        kind: 'reboot',
        node: view.name,
        slot: target,
        expectedBootTimeMs: bootTimeBefore,
      });
    }
    return;
  }

  if (agent.runningSlot === origin) {
    if (agent.nextSlot === target) {
      // A new boot, but BootNext is still set: the firmware never booted the target (it deletes
      // BootNext before booting it); the agent restarted. Ask again, for this boot.
      if (ctx.nowMs >= bootDeadline) {
        bootTimedOut();
        return;
      }
      ctx.deadlines.push(bootDeadline);
      transition(
        work,
        ctx,
        step.rebooting,
        reasons.repeated,
        `The node agent restarted on slot ${origin} without booting slot ${target} (BootNext is still set); asked to reboot again, until ${rfc3339(bootDeadline)}.`,
        { bootTimeBeforeReboot: isoMs(agent.bootTimeMs) },
      );
      ctx.effects.push({
        kind: 'reboot',
        node: view.name,
        slot: target,
        expectedBootTimeMs: agent.bootTimeMs,
      });
      return;
    }
    // Why it was not healthy on the new slot is why that slot failed: say it.
    const lastSeen =
      entry.unhealthyOnTarget === undefined
        ? ''
        : ` On slot ${target} it was not healthy: ${entry.unhealthyOnTarget}.`;
    step.cameBackOnOrigin(
      work,
      ctx,
      `Came back on its old slot ${origin} (${agent.version}) instead of slot ${target} (${version}): the boot of slot ${target} did not last, and the node fell back.${lastSeen}`,
    );
    return;
  }

  if (agent.version !== version) {
    fail(reasons.wrongVersion, `Booted slot ${target} but runs ${agent.version}, not ${version}.`);
    return;
  }
  const healthDeadline = Math.min(
    Math.max(agent.bootTimeMs, requestedAtMs) + healthTimeoutMs,
    backDeadline,
  );
  if (!agent.healthy || !agent.rolesServing) {
    const why = agent.healthy
      ? 'its roles are not all serving'
      : `the node agent reports unhealthy: ${agent.healthMessage === '' ? 'no reason given' : agent.healthMessage}`;
    if (ctx.nowMs >= healthDeadline) {
      fail(
        reasons.healthTimeout,
        `Back on slot ${target} with ${version} but not healthy within healthTimeout (${duration(healthTimeoutMs)}): ${why}.`,
      );
      return;
    }
    ctx.deadlines.push(healthDeadline);
    transition(
      work,
      ctx,
      step.back,
      reasons.waitingForHealth,
      `Back on slot ${target} with ${version}; waiting until ${rfc3339(healthDeadline)} for health: ${why}.`,
      { unhealthyOnTarget: why },
    );
    return;
  }
  if (agent.committedSlot !== target || agent.trial) {
    if (ctx.nowMs >= healthDeadline) {
      fail(
        reasons.commitTimeout,
        `Healthy on slot ${target} but the commit did not take effect by ${rfc3339(healthDeadline)}.`,
      );
      return;
    }
    ctx.deadlines.push(healthDeadline);
    transition(
      work,
      ctx,
      step.back,
      reasons.committing,
      `Back on slot ${target} with ${version} and healthy; committing it (BootOrder).`,
    );
    ctx.effects.push({ kind: 'commit', node: view.name });
    return;
  }
  transition(
    work,
    ctx,
    step.done,
    reasons.done,
    `Runs ${version} from slot ${target}, committed.`,
    {
      finishedAt: ctx.now,
    },
  );
}

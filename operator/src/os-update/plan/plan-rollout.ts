// The decision core of the OSUpdate rollout: from one snapshot (the object, its selected nodes as
// their agents report them, etcd's members, the engine's in-memory facts) to the complete new
// status and the effects to perform now. No I/O, no clock: the engine does both.
import type {
  MonogonNodeHealth,
  MonogonNodeRole,
  MonogonNodeState,
  OSUpdateCondition,
  OSUpdateCounts,
  OSUpdateNodePhase,
  OSUpdateNodeStatus,
  OSUpdatePhase,
  OSUpdateSlot,
  OSUpdateStatus,
} from '@metropolis/api';
import { rfc3339 } from '../../kube/rfc3339.js';
import { findCondition, setCondition, type ConditionUpdate } from '../../kube/set-condition.js';
import {
  maxUnavailableNodes,
  type OSUpdateResource,
  type OSUpdateRollout,
} from '../os-update-resource.js';
import {
  disruptionBudget,
  isConsensusMember,
  quorumCheck,
  rolloutOrder,
  rolloutTier,
  rolloutTiers,
  type RolloutTier,
} from '../disruption-budget.js';
import type { EtcdView } from '../../consensus/etcd-view.js';
import type { AgentView } from '../agent-view.js';

/** A selected MonogonNode and what its agent says now. */
export interface RolloutNodeView {
  readonly name: string;
  readonly specRoles: readonly MonogonNodeRole[];
  readonly state: MonogonNodeState;
  readonly health: MonogonNodeHealth;
  /** Undefined when the agent cannot be reached. */
  readonly agent: AgentView | undefined;
}

/** How a StageUpdate call that finished since the last snapshot ended. */
export interface StageResult {
  readonly node: string;
  readonly ok: boolean;
  /** Why it failed; empty when ok. */
  readonly message: string;
  /**
   * The agent could not be asked or was busy (UNAVAILABLE, a stage already running): try again.
   * Without it, a failure is the agent refusing the bundle, and fails the node.
   */
  readonly transient?: boolean;
}

/** One snapshot. */
export interface RolloutInput {
  /** The parts of the OSUpdate (as parseOSUpdate returns it) the planner reads. */
  readonly update: {
    readonly metadata: Pick<OSUpdateResource['metadata'], 'name' | 'generation'>;
    readonly spec: Pick<OSUpdateResource['spec'], 'version' | 'paused'>;
    readonly rollout: OSUpdateRollout;
    readonly status: OSUpdateStatus;
  };
  readonly nowMs: number;
  /** The selected nodes. NEW and DECOMMISSIONED ones are not part of the cluster and are skipped. */
  readonly nodes: readonly RolloutNodeView[];
  /** etcd's members, read just now; undefined when etcd could not be asked. */
  readonly etcd: EtcdView | undefined;
  /** Nodes this update must not start on, each with the OSUpdate claiming it (see nodeClaims). */
  readonly claims: ReadonlyMap<string, string>;
  /** Nodes with a StageUpdate call of this process in flight. */
  readonly staging: ReadonlySet<string>;
  /** Stage calls finished since the last status write that succeeded. */
  readonly stageResults: readonly StageResult[];
  /**
   * Reboot calls this process made that the agent accepted or that are in flight: node to the
   * expectedBootTimeMs they carried. A recorded reboot is not asked again while listed here.
   */
  readonly rebootsRequested?: ReadonlyMap<string, number>;
  /** The node the leading operator runs on: last in its tier. */
  readonly operatorNode?: string | undefined;
}

export type RolloutAction =
  /** Start StageUpdate with spec.bundle and spec.version in the background. */
  | { readonly kind: 'stage'; readonly node: string }
  /** SetNextBoot(slot), then Reboot guarded by expectedBootTimeMs. */
  | {
      readonly kind: 'reboot';
      readonly node: string;
      readonly slot: OSUpdateSlot;
      readonly expectedBootTimeMs: number;
    }
  /** CommitBoot: idempotent. */
  | { readonly kind: 'commit'; readonly node: string }
  | {
      readonly kind: 'event';
      readonly node?: string;
      readonly type: 'Normal' | 'Warning';
      readonly reason: string;
      readonly message: string;
    };

export interface RolloutPlan {
  /** The complete new status. */
  readonly status: OSUpdateStatus;
  /** To perform only after `status` is written (conditioned on the resourceVersion read). */
  readonly actions: RolloutAction[];
  /** When to plan again even if nothing is reported (a timeout); undefined: no need. */
  readonly nextCheckAtMs: number | undefined;
}

/** The condition types of an OSUpdate. */
export const rolloutConditionTypes = {
  progressing: 'Progressing',
  complete: 'Complete',
  failed: 'Failed',
  /** Another OSUpdate owns a selected node. */
  blocked: 'Blocked',
} as const;

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

interface Context {
  readonly input: RolloutInput;
  readonly strategy: OSUpdateRollout;
  readonly nowMs: number;
  /** nowMs as RFC 3339, for the status. */
  readonly now: string;
  readonly paused: boolean;
  readonly toVersion: string;
  /** stage, reboot and commit actions, in decision order. */
  readonly effects: RolloutAction[];
  readonly events: RolloutAction[];
  readonly deadlines: number[];
}

interface NodeWork {
  readonly view: RolloutNodeView;
  /** The entry as stored. */
  readonly before: OSUpdateNodeStatus | undefined;
  /** The entry being decided. */
  entry: OSUpdateNodeStatus;
}

type EntryFields = Omit<OSUpdateNodeStatus, 'node' | 'phase' | 'reason' | 'message'>;

const disruptingPhases: readonly OSUpdateNodePhase[] = ['Rebooting', 'Verifying', 'Reverting'];

function phaseOf(work: NodeWork): OSUpdateNodePhase {
  return work.entry.phase ?? 'Pending';
}

function isDisrupting(work: NodeWork): boolean {
  return disruptingPhases.includes(phaseOf(work));
}

function isFailure(work: NodeWork): boolean {
  return phaseOf(work) === 'Failed' || phaseOf(work) === 'RolledBack';
}

function isRevertFailure(work: NodeWork): boolean {
  return phaseOf(work) === 'Failed' && (work.entry.reason ?? '').startsWith('Revert');
}

function pendingEntry(node: string, toVersion: string): OSUpdateNodeStatus {
  return { node, phase: 'Pending', toVersion };
}

/**
 * Moves the entry; a new phase is also an Event (Warning for a failure), and so is a repeated
 * reboot, which is worth knowing about.
 */
function transition(
  work: NodeWork,
  ctx: Context,
  phase: OSUpdateNodePhase,
  reason: string,
  message: string,
  fields: EntryFields = {},
): void {
  const changed = phaseOf(work) !== phase || reason.endsWith('RebootRepeated');
  work.entry = { ...work.entry, ...fields, phase, reason, message };
  if (changed) emit(work, ctx, phase === 'Failed' || phase === 'RolledBack', reason, message);
}

function emit(
  work: NodeWork,
  ctx: Context,
  warning: boolean,
  reason: string,
  message: string,
): void {
  ctx.events.push({
    kind: 'event',
    node: work.view.name,
    type: warning ? 'Warning' : 'Normal',
    reason,
    message: `${work.view.name}: ${message}`,
  });
}

/** Keeps the phase, says why it does not move. */
function hold(work: NodeWork, reason: string, message: string): void {
  work.entry = { ...work.entry, reason, message };
}

function reachable(view: RolloutNodeView): view is RolloutNodeView & { agent: AgentView } {
  return view.state === 'UP' && view.agent !== undefined;
}

/** Counts towards the cluster's capacity: UP, healthy, roles serving. */
function isAvailable(view: RolloutNodeView): boolean {
  const { agent } = view;
  return (
    view.state === 'UP' &&
    view.health === 'HEALTHY' &&
    agent !== undefined &&
    agent.healthy &&
    agent.rolesServing
  );
}

function unavailability(view: RolloutNodeView): string {
  const { agent } = view;
  if (view.state !== 'UP') return `The node is ${view.state}, not UP.`;
  if (agent === undefined) return `The node agent does not answer (health ${view.health}).`;
  if (!agent.healthy) {
    return `The node agent reports unhealthy: ${agent.healthMessage === '' ? 'no reason given' : agent.healthMessage}.`;
  }
  if (!agent.rolesServing) return 'Its roles are not all serving.';
  return `Its health is ${view.health}.`;
}

// ---- pass 1 ----------------------------------------------------------------------------------

function observe(work: NodeWork, ctx: Context, results: ReadonlyMap<string, StageResult>): void {
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
interface StepKind {
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

const updateStep: StepKind = {
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

const revertStep: StepKind = {
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

// ---- pass 2 ----------------------------------------------------------------------------------

/** Pending and Staging nodes: start (or restart) staging, or say why not. */
function startOrHold(work: NodeWork, ctx: Context, failed: boolean): void {
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
function scheduleReboots(works: readonly NodeWork[], ctx: Context, failed: boolean): void {
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
function scheduleReverts(works: readonly NodeWork[], ctx: Context): void {
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
function restoreCommitted(work: NodeWork): void {
  const { entry } = work;
  if (entry.reason === 'AlreadyUpToDate') return;
  hold(
    work,
    'Updated',
    `Runs ${entry.toVersion ?? '?'} from slot ${entry.toSlot ?? '?'}, committed.`,
  );
}

// ---- pass 3 ----------------------------------------------------------------------------------

function rolloutPhase(works: readonly NodeWork[], ctx: Context, failed: boolean): OSUpdatePhase {
  const phases = works.map(phaseOf);
  if (failed) {
    if (ctx.strategy.failurePolicy === 'Halt' || works.some(isRevertFailure)) return 'Halted';
    const left = works.some(
      (work) =>
        phaseOf(work) === 'Reverting' ||
        (phaseOf(work) === 'Committed' && work.entry.fromSlot !== work.entry.toSlot),
    );
    if (!left) return 'Reverted';
    return ctx.paused ? 'Paused' : 'Reverting';
  }
  if (works.length > 0 && phases.every((phase) => phase === 'Committed')) return 'Succeeded';
  if (ctx.paused) return 'Paused';
  if (phases.includes('Staging')) return 'Staging';
  if (phases.every((phase) => phase === 'Pending')) return 'Pending';
  return 'Progressing';
}

function countNodes(works: readonly NodeWork[]): Required<OSUpdateCounts> {
  const count = (...phases: OSUpdateNodePhase[]): number =>
    works.filter((work) => phases.includes(phaseOf(work))).length;
  return {
    total: works.length,
    pending: count('Pending', 'Staging'),
    staged: count('Staged'),
    updating: count('Rebooting', 'Verifying', 'Reverting'),
    committed: count('Committed'),
    rolledBack: count('RolledBack'),
    failed: count('Failed'),
    reverted: count('Reverted'),
  };
}

interface Failure {
  readonly node: string | undefined;
  readonly reason: string;
  readonly message: string;
}

/** The first failure: kept from the stored condition, else the earliest failed entry. */
function failureHeadline(
  works: readonly NodeWork[],
  stored: OSUpdateCondition | undefined,
): Failure | undefined {
  if (stored?.status === 'True') {
    const node = /^(\S+): /.exec(stored.message)?.[1];
    return { node, reason: stored.reason, message: stored.message };
  }
  const failures = works
    .filter(isFailure)
    .sort(
      (a, b) =>
        compareNames(a.entry.finishedAt ?? '', b.entry.finishedAt ?? '') ||
        compareNames(a.view.name, b.view.name),
    );
  const first = failures[0];
  if (first === undefined) return undefined;
  const more = failures.length > 1 ? ` (and ${String(failures.length - 1)} more)` : '';
  return {
    node: first.view.name,
    reason: first.entry.reason ?? 'Failed',
    message: `${first.view.name}: ${first.entry.message ?? ''}${more}`,
  };
}

function summarize(
  phase: OSUpdatePhase,
  works: readonly NodeWork[],
  ctx: Context,
  failure: Failure | undefined,
): string {
  const total = works.length;
  const committed = works.filter((work) => phaseOf(work) === 'Committed').length;
  const updated = `${String(committed)}/${String(total)} nodes updated`;
  const busy = works.filter((work) => isDisrupting(work) || phaseOf(work) === 'Staging');
  const busyText = busy.map((work) => `${work.view.name} (${phaseOf(work)})`).join(', ');
  const toRevert = works.filter(
    (work) =>
      phaseOf(work) === 'Reverting' ||
      (phaseOf(work) === 'Committed' && work.entry.fromSlot !== work.entry.toSlot),
  ).length;
  const after =
    failure === undefined ? 'a failure' : `${failure.node ?? 'a node'} failed (${failure.reason})`;
  switch (phase) {
    case 'Pending':
      return total === 0
        ? 'No node selected: no approved MonogonNode matches spec.nodeSelector.'
        : `${updated}; not started: ${waitingText(works)}.`;
    case 'Staging':
      return `Staging ${ctx.toVersion}: ${String(count(works, 'Staged'))} staged, ${String(count(works, 'Staging'))} staging; ${updated}.`;
    case 'Progressing':
      return busy.length > 0
        ? `${updated}; updating ${busyText}.`
        : `${updated}; waiting: ${waitingText(works)}.`;
    case 'Paused':
      return `Paused: ${updated}${busy.length > 0 ? `; finishing ${busyText}` : ''}.`;
    case 'Succeeded':
      return `${updated} to ${ctx.toVersion}.`;
    case 'Halted':
      return `Halted after ${after}: ${updated}, the others left as they are${busy.length > 0 ? `; finishing ${busyText}` : ''}.`;
    case 'Reverting':
      return `Reverting after ${after}: ${String(count(works, 'Reverted'))} reverted, ${String(toRevert)} to go${busy.length > 0 ? `; reverting ${busyText}` : ''}.`;
    case 'Reverted':
      return `Reverted after ${after}: ${String(count(works, 'Reverted'))} node(s) back on their previous version, nothing left on ${ctx.toVersion} by this update.`;
  }
}

function count(works: readonly NodeWork[], phase: OSUpdateNodePhase): number {
  return works.filter((work) => phaseOf(work) === phase).length;
}

/** "WaitingForQuorum (metropolis-c), NodeUnavailable (metropolis-a, +1 more)" */
function waitingText(works: readonly NodeWork[]): string {
  const byReason = new Map<string, string[]>();
  for (const work of works) {
    const phase = phaseOf(work);
    if (phase !== 'Pending' && phase !== 'Staged') continue;
    const reason = work.entry.reason ?? phase;
    byReason.set(reason, [...(byReason.get(reason) ?? []), work.view.name]);
  }
  if (byReason.size === 0) return 'nothing';
  return [...byReason]
    .map(
      ([reason, nodes]) =>
        `${reason} (${nodes[0] ?? ''}${nodes.length > 1 ? `, +${String(nodes.length - 1)} more` : ''})`,
    )
    .join(', ');
}

function describeNodes(works: readonly NodeWork[], what: string): string {
  if (works.length === 0) return `none ${what}`;
  return `${String(works.length)} ${what} (${works.map((work) => work.view.name).join(', ')})`;
}

function rolloutConditions(
  phase: OSUpdatePhase,
  summary: string,
  works: readonly NodeWork[],
  failure: Failure | undefined,
  blocked: readonly NodeWork[],
  claims: ReadonlyMap<string, string>,
): ConditionUpdate[] {
  const { progressing, complete, failed, blocked: blockedType } = rolloutConditionTypes;
  const active = phase === 'Staging' || phase === 'Progressing' || phase === 'Reverting';
  const idleReason =
    phase === 'Pending' ? (works.length === 0 ? 'NoNodesSelected' : 'NotStarted') : phase;
  const claimants = new Map<string, string[]>();
  for (const work of blocked) {
    const name = claims.get(work.view.name) ?? '?';
    claimants.set(name, [...(claimants.get(name) ?? []), work.view.name]);
  }
  return [
    {
      type: progressing,
      status: active ? 'True' : 'False',
      reason: active ? phase : idleReason,
      message: summary,
    },
    phase === 'Succeeded'
      ? { type: complete, status: 'True', reason: 'Succeeded', message: summary }
      : {
          type: complete,
          status: 'False',
          reason: idleReason,
          message: 'Not every selected node is updated yet.',
        },
    failure === undefined
      ? { type: failed, status: 'False', reason: 'NoFailure', message: 'No node failed.' }
      : { type: failed, status: 'True', reason: failure.reason, message: failure.message },
    blocked.length === 0
      ? {
          type: blockedType,
          status: 'False',
          reason: 'NotBlocked',
          message: 'No selected node is claimed by another OSUpdate.',
        }
      : {
          type: blockedType,
          status: 'True',
          reason: 'WaitingForOtherUpdate',
          message: [...claimants]
            .map(
              ([name, nodes]) =>
                `${nodes.join(', ')} wait${nodes.length === 1 ? 's' : ''} for OSUpdate ${name}`,
            )
            .join('; '),
        },
  ];
}

// ---- small things ------------------------------------------------------------------------------

function otherSlot(slot: OSUpdateSlot): OSUpdateSlot {
  return slot === 'A' ? 'B' : 'A';
}

/** Boot times keep their milliseconds: they are compared for equality. */
function isoMs(ms: number): string {
  return new Date(ms).toISOString();
}

function duration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const text = `${h > 0 ? `${String(h)}h` : ''}${m > 0 ? `${String(m)}m` : ''}${s > 0 ? `${String(s)}s` : ''}`;
  return text === '' ? '0s' : text;
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

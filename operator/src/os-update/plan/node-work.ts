// One node's entry while a plan is being made, and the small moves every pass makes on it:
// transitions (with their events), holds, and what counts as reachable or available.
import type { OSUpdateNodePhase, OSUpdateNodeStatus, OSUpdateSlot } from '@metropolis/api';
import type { OSUpdateRollout } from '../os-update-resource.js';
import type { AgentView } from '../agent-view.js';
import type { RolloutNodeView, RolloutInput, RolloutAction } from './rollout-types.js';

/** What one plan knows (its input, the strategy, now) and collects (effects, events, deadlines). */
export interface Context {
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

/** One selected node while the plan decides its entry. */
export interface NodeWork {
  readonly view: RolloutNodeView;
  /** The entry as stored. */
  readonly before: OSUpdateNodeStatus | undefined;
  /** The entry being decided. */
  entry: OSUpdateNodeStatus;
}

type EntryFields = Omit<OSUpdateNodeStatus, 'node' | 'phase' | 'reason' | 'message'>;

const disruptingPhases: readonly OSUpdateNodePhase[] = ['Rebooting', 'Verifying', 'Reverting'];

export function phaseOf(work: NodeWork): OSUpdateNodePhase {
  return work.entry.phase ?? 'Pending';
}

export function isDisrupting(work: NodeWork): boolean {
  return disruptingPhases.includes(phaseOf(work));
}

export function isFailure(work: NodeWork): boolean {
  return phaseOf(work) === 'Failed' || phaseOf(work) === 'RolledBack';
}

export function isRevertFailure(work: NodeWork): boolean {
  return phaseOf(work) === 'Failed' && (work.entry.reason ?? '').startsWith('Revert');
}

export function pendingEntry(node: string, toVersion: string): OSUpdateNodeStatus {
  return { node, phase: 'Pending', toVersion };
}

/**
 * Phases worth an Event on the OSUpdate: a node's failure and its revert. The steps in between
 * (Staging, Staged, Rebooting, Verifying) are in the status and the log; an Event each would be
 * several API writes per node step. A success (Committed) is the MonogonNode's VersionChanged
 * event (the node, its new version and slot): one Event per successful node step, not two.
 */
const eventPhases: readonly OSUpdateNodePhase[] = ['RolledBack', 'Failed', 'Reverting', 'Reverted'];

/**
 * Moves the entry; a new outcome is also an Event (Warning for a failure), and so is a repeated
 * reboot, which is worth knowing about.
 */
export function transition(
  work: NodeWork,
  ctx: Context,
  phase: OSUpdateNodePhase,
  reason: string,
  message: string,
  fields: EntryFields = {},
): void {
  const changed =
    (phaseOf(work) !== phase && eventPhases.includes(phase)) || reason.endsWith('RebootRepeated');
  work.entry = { ...work.entry, ...fields, phase, reason, message };
  if (changed) emit(work, ctx, phase === 'Failed' || phase === 'RolledBack', reason, message);
}

export function emit(
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
export function hold(work: NodeWork, reason: string, message: string): void {
  work.entry = { ...work.entry, reason, message };
}

export function reachable(view: RolloutNodeView): view is RolloutNodeView & { agent: AgentView } {
  return view.state === 'UP' && view.agent !== undefined;
}

/** Counts towards the cluster's capacity: UP, healthy, roles serving. */
export function isAvailable(view: RolloutNodeView): boolean {
  const { agent } = view;
  return (
    view.state === 'UP' &&
    view.health === 'HEALTHY' &&
    agent !== undefined &&
    agent.healthy &&
    agent.rolesServing
  );
}

export function unavailability(view: RolloutNodeView): string {
  const { agent } = view;
  if (view.state !== 'UP') return `The node is ${view.state}, not UP.`;
  if (agent === undefined) return `The node agent does not answer (health ${view.health}).`;
  if (!agent.healthy) {
    return `The node agent reports unhealthy: ${agent.healthMessage === '' ? 'no reason given' : agent.healthMessage}.`;
  }
  if (!agent.rolesServing) return 'Its roles are not all serving.';
  return `Its health is ${view.health}.`;
}

export function otherSlot(slot: OSUpdateSlot): OSUpdateSlot {
  return slot === 'A' ? 'B' : 'A';
}

/** Boot times keep their milliseconds: they are compared for equality. */
export function isoMs(ms: number): string {
  return new Date(ms).toISOString();
}

export function duration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const text = `${h > 0 ? `${String(h)}h` : ''}${m > 0 ? `${String(m)}m` : ''}${s > 0 ? `${String(s)}s` : ''}`;
  return text === '' ? '0s' : text;
}

export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// Pass 3 of a plan: the rollout as a whole, its phase, counts, summary line and conditions.
import type {
  OSUpdateCondition,
  OSUpdateCounts,
  OSUpdateNodePhase,
  OSUpdatePhase,
} from '@metropolis/api';
import type { ConditionUpdate } from '../../kube/set-condition.js';
import { rolloutConditionTypes } from './rollout-types.js';
import {
  type Context,
  type NodeWork,
  phaseOf,
  isDisrupting,
  isFailure,
  isRevertFailure,
  compareNames,
} from './node-work.js';

export function rolloutPhase(
  works: readonly NodeWork[],
  ctx: Context,
  failed: boolean,
): OSUpdatePhase {
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

export function countNodes(works: readonly NodeWork[]): Required<OSUpdateCounts> {
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
export function failureHeadline(
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

export function summarize(
  phase: OSUpdatePhase,
  works: readonly NodeWork[],
  ctx: Context,
  failure: Failure | undefined,
): string {
  const total = works.length;
  const committed = works.filter((work) => phaseOf(work) === 'Committed').length;
  const updated = `${String(committed)}/${String(total)} nodes updated`;
  const busy = works.filter((work) => isDisrupting(work) || phaseOf(work) === 'Staging');
  const busyText = busyNodes(busy);
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
  return [...byReason].map(([reason, nodes]) => `${reason} (${nameList(nodes, 1)})`).join(', ');
}

export function describeNodes(works: readonly NodeWork[], what: string): string {
  if (works.length === 0) return `none ${what}`;
  return `${String(works.length)} ${what} (${nameList(works.map((work) => work.view.name))})`;
}

/**
 * "a, b, c" or "a, b, c, +7 more": a text the API stores in a bounded field (summary, messages:
 * 1024 characters) names a few nodes and counts the rest, at any fleet size.
 */
export function nameList(names: readonly string[], shown = 3): string {
  const head = names.slice(0, shown).join(', ');
  return names.length > shown ? `${head}, +${String(names.length - shown)} more` : head;
}

/** "w1 (Rebooting), w2 (Verifying)"; past three, by phase: "12 nodes: 10 Rebooting (a, b, c, +7 more), ...". */
function busyNodes(busy: readonly NodeWork[]): string {
  if (busy.length <= 3)
    return busy.map((work) => `${work.view.name} (${phaseOf(work)})`).join(', ');
  const byPhase = new Map<string, string[]>();
  for (const work of busy) {
    const phase = phaseOf(work);
    byPhase.set(phase, [...(byPhase.get(phase) ?? []), work.view.name]);
  }
  const phases = [...byPhase].map(
    ([phase, names]) => `${String(names.length)} ${phase} (${nameList(names)})`,
  );
  return `${String(busy.length)} nodes: ${phases.join(', ')}`;
}

export function rolloutConditions(
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
                `${nameList(nodes)} wait${nodes.length === 1 ? 's' : ''} for OSUpdate ${name}`,
            )
            .join('; '),
        },
  ];
}

// `update status NAME`: one OSUpdate for people: its phase and summary, the conditions that say
// something the phase does not, and a table of its nodes. Pure: the clock is a parameter.
import type { OSUpdate, OSUpdateCondition, OSUpdateNodeStatus } from '@metropolis/api';
import { renderBorderlessTable } from './borderless-table.js';
import { creationTime } from './creation-time.js';
import { heartbeatAge } from './node-table.js';
import { oneLine } from './os-update-table.js';

/** Headers of the per-node table, in order; REASON/MESSAGE is last (free text). */
export const osUpdateNodeColumns = [
  'NODE',
  'PHASE',
  'FROM',
  'TO',
  'SLOT',
  'STARTED',
  'REASON/MESSAGE',
] as const;

const none = '-';

/**
 * The conditions worth showing: Progressing and Complete restate the phase and summary, and a
 * False Failed or Blocked says that nothing is wrong. Everything else (Failed or Blocked True,
 * any Unknown, types metroctl does not know) is shown.
 */
export function notableConditions(conditions: readonly OSUpdateCondition[]): OSUpdateCondition[] {
  return conditions.filter((condition) => {
    if (condition.type === 'Progressing' || condition.type === 'Complete') return false;
    if (condition.type === 'Failed' || condition.type === 'Blocked') {
      return condition.status !== 'False';
    }
    return true;
  });
}

/** One row of the node table. */
export function osUpdateNodeRow(node: OSUpdateNodeStatus, now: Date): string[] {
  const slot =
    node.fromSlot === undefined && node.toSlot === undefined
      ? none
      : `${node.fromSlot ?? '?'}→${node.toSlot ?? '?'}`;
  const reason = oneLine(node.reason);
  const message = oneLine(node.message);
  return [
    node.node,
    node.phase ?? 'Pending',
    node.fromVersion ?? none,
    node.toVersion ?? none,
    slot,
    node.startedAt === undefined ? none : heartbeatAge(node.startedAt, now),
    reason !== undefined && message !== undefined
      ? `${reason}: ${message}`
      : (reason ?? message ?? none),
  ];
}

/** The whole description, lines joined by newlines, no trailing newline. */
export function describeOSUpdate(update: OSUpdate, now: Date): string {
  const status = update.status ?? {};
  const created = creationTime(update.metadata);
  const fields: [string, string][] = [
    ['Name', update.metadata.name],
    ['Version', update.spec.version],
    [
      'Phase',
      `${status.phase ?? 'not reported yet'}${update.spec.paused === true ? ' (paused)' : ''}`,
    ],
    ['Updated', status.updated ?? none],
    ['Summary', oneLine(status.summary) ?? none],
    ['Bundle', update.spec.bundle.url],
    ['Age', created === undefined ? none : heartbeatAge(created, now)],
  ];
  const { generation } = update.metadata;
  if (
    generation !== undefined &&
    status.observedGeneration !== undefined &&
    status.observedGeneration < generation
  ) {
    fields.push(['Note', 'the operator has not acted on the latest spec change yet']);
  }
  const width = Math.max(...fields.map(([label]) => label.length)) + 3;
  const lines = fields.map(([label, value]) => `${`${label}:`.padEnd(width)}${value}`);
  const conditions = notableConditions(status.conditions ?? []);
  if (conditions.length > 0) {
    lines.push('', 'Conditions:');
    for (const condition of conditions) {
      const message = oneLine(condition.message);
      lines.push(
        `  ${condition.type}=${condition.status} ${condition.reason}` +
          (message === undefined ? '' : `: ${message}`),
      );
    }
  }
  const nodes = [...(status.nodes ?? [])].sort((a, b) => a.node.localeCompare(b.node));
  lines.push('');
  if (nodes.length === 0) {
    lines.push('No nodes reported yet.');
  } else {
    lines.push(
      renderBorderlessTable(
        osUpdateNodeColumns,
        nodes.map((node) => osUpdateNodeRow(node, now)),
      ),
    );
  }
  return lines.join('\n');
}

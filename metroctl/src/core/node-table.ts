// The `node describe` table: Monogon's columns (metroctl table_node.go) plus SLOT, borderless,
// each column padded to its widest cell plus three spaces. Pure: the clock is a parameter.
import { sortRoles, type MonogonNode } from '@metropolis/api';
import { renderBorderlessTable } from './borderless-table.js';

/** Column headers, in order. */
export const nodeTableColumns = [
  'NODE ID',
  'STATE',
  'ADDRESS',
  'HEALTH',
  'ROLES',
  'TPM',
  'VERSION',
  'HEARTBEAT',
  'SLOT',
] as const;

// Cells that have no value show this, so every row splits into the same number of fields.
const none = '-';

/**
 * One row of the table, as strings. `heardAt` is the node's Lease renewTime, if known: the
 * later of it and status.lastHeartbeat is the heartbeat shown.
 */
export function nodeTableRow(node: MonogonNode, now: Date, heardAt?: Date): string[] {
  const status = node.status ?? {};
  const heartbeat = latest(status.lastHeartbeat, heardAt);
  const roles = sortRoles(node.spec.roles ?? []);
  return [
    node.metadata.name,
    status.state ?? none,
    status.address ?? 'unknown',
    status.health ?? 'UNKNOWN',
    roles.length === 0 ? none : roles.join(','),
    status.tpm === undefined ? none : status.tpm ? 'yes' : 'no',
    status.version ?? none,
    heartbeat === undefined ? none : heartbeatAge(heartbeat, now),
    status.bootedSlot ?? none,
  ];
}

/**
 * The table for `nodes` (header included), lines joined by newlines, no trailing spaces.
 * `heartbeats`: each node's Lease renewTime by node ID (MonogonNodes.heartbeats).
 */
export function renderNodeTable(
  nodes: readonly MonogonNode[],
  now: Date,
  heartbeats: ReadonlyMap<string, Date> = new Map(),
): string {
  return renderBorderlessTable(
    nodeTableColumns,
    nodes.map((node) => nodeTableRow(node, now, heartbeats.get(node.metadata.name))),
  );
}

/** The later of an RFC 3339 time and a date, as RFC 3339; an unparsable time is kept as is. */
function latest(time: string | undefined, date: Date | undefined): string | undefined {
  if (date === undefined || Number.isNaN(date.getTime())) return time;
  if (time !== undefined && !(Date.parse(time) < date.getTime())) return time;
  return date.toISOString();
}

/**
 * How long ago an RFC 3339 time was, as kubectl prints ages: seconds up to two minutes
 * ("3s", the range a healthy node is in), then minutes, hours and days. A time in the future
 * (clock skew) is "0s"; an unparsable one is shown as is.
 */
export function heartbeatAge(time: string, now: Date): string {
  const then = Date.parse(time);
  if (Number.isNaN(then)) return time;
  const seconds = Math.max(0, Math.floor((now.getTime() - then) / 1000));
  if (seconds < 120) return `${String(seconds)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 120) return `${String(minutes)}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${String(hours)}h`;
  return `${String(Math.floor(hours / 24))}d`;
}

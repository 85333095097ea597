// The `update status` table of all OSUpdates: kubectl's printer columns plus SUMMARY, in the
// borderless layout of every metroctl table. Pure: the clock is a parameter.
import type { OSUpdate } from '@metropolis/api';
import { renderBorderlessTable } from './borderless-table.js';
import { creationTime } from './creation-time.js';
import { heartbeatAge } from './node-table.js';

/** Column headers, in order. SUMMARY is last: it is free text with spaces. */
export const osUpdateTableColumns = [
  'NAME',
  'VERSION',
  'PHASE',
  'UPDATED',
  'AGE',
  'SUMMARY',
] as const;

// Cells that have no value show this, so the first five columns split on whitespace.
const none = '-';

/** One row of the table, as strings. */
export function osUpdateTableRow(update: OSUpdate, now: Date): string[] {
  const status = update.status ?? {};
  const created = creationTime(update.metadata);
  return [
    update.metadata.name,
    update.spec.version,
    status.phase ?? none,
    status.updated ?? none,
    created === undefined ? none : heartbeatAge(created, now),
    oneLine(status.summary) ?? none,
  ];
}

/** The table for `updates` (header included), lines joined by newlines, no trailing spaces. */
export function renderOSUpdateTable(updates: readonly OSUpdate[], now: Date): string {
  return renderBorderlessTable(
    osUpdateTableColumns,
    updates.map((update) => osUpdateTableRow(update, now)),
  );
}

/** `text` on one line (a table cell must not break the table); undefined if empty. */
export function oneLine(text: string | undefined): string | undefined {
  const line = text?.replace(/\s*\n\s*/g, ' ').trim();
  return line === '' ? undefined : line;
}

// The detail view `node describe ID` prints under the table: every health check of the node
// (what HEALTH is made of) and every condition, each with its age. Pure: the clock is a parameter.
import type { MonogonNode } from '@metropolis/api';
import { renderBorderlessTable } from './borderless-table.js';
import { heartbeatAge } from './node-table.js';

/** One node's details, lines joined by newlines, no trailing spaces. */
export function renderNodeDetails(node: MonogonNode, now: Date): string {
  const status = node.status ?? {};
  const checks = status.healthChecks ?? [];
  const conditions = status.conditions ?? [];
  const lines = [`Node ${node.metadata.name}: ${status.health ?? 'UNKNOWN'}`];
  lines.push(
    checks.length === 0
      ? 'Health checks: none reported'
      : `Health checks (${String(checks.filter((check) => !check.ok).length)} failing):`,
  );
  if (checks.length > 0) {
    lines.push(
      indent(
        renderBorderlessTable(
          ['CHECK', 'STATUS', 'SINCE', 'MESSAGE'],
          checks.map((check) => [
            check.name,
            check.ok ? 'ok' : 'FAILING',
            heartbeatAge(check.since, now),
            check.message,
          ]),
        ),
      ),
    );
  }
  if (conditions.length > 0) {
    lines.push('Conditions:');
    lines.push(
      indent(
        renderBorderlessTable(
          ['TYPE', 'STATUS', 'REASON', 'SINCE', 'MESSAGE'],
          conditions.map((condition) => [
            condition.type,
            condition.status,
            condition.reason,
            heartbeatAge(condition.lastTransitionTime, now),
            condition.message,
          ]),
        ),
      ),
    );
  }
  return lines.join('\n');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}

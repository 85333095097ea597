// Durations on the command line, as Go's flag package and Kubernetes components write them:
// "10s", "500ms", "1.5m", "1h"; a bare number means seconds.
import { OperatorError } from './errors.js';

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Milliseconds in `text`.
 * @throws {OperatorError} `OPERATOR_BAD_FLAG` for anything else, zero, or a negative value.
 */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  const value = match?.[1];
  if (match === null || value === undefined) {
    throw new OperatorError(
      'OPERATOR_BAD_FLAG',
      `"${text}" is not a duration such as 10s, 500ms or 2m`,
    );
  }
  const ms = Number(value) * (units[match[2] ?? 's'] ?? 1000);
  if (!(ms > 0)) throw new OperatorError('OPERATOR_BAD_FLAG', `"${text}": must be more than 0`);
  return Math.round(ms);
}

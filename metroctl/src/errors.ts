// Typed errors of metroctl and the one table that turns them into exit codes. Core code throws
// these; only main.ts prints them (one line) and sets the exit code.
import { CodedError } from '@metropolis/errors';

export type MetroctlErrorCode =
  /** Anything not classified below: I/O, a malformed answer, an unexpected API error. */
  | 'METROCTL_FAILED'
  /** Wrong arguments: an unknown role, a malformed endpoint, conflicting flags. */
  | 'METROCTL_USAGE'
  /** The config directory lacks what the command needs (not bootstrapped), or is unsafe. */
  | 'METROCTL_CONFIG'
  /** A node or the Kubernetes API did not answer (refused, timed out, no route). */
  | 'METROCTL_UNREACHABLE'
  /** A node ID, or the MonogonNode resource type itself, does not exist. */
  | 'METROCTL_NOT_FOUND'
  /** The cluster refused our credentials: not the owner, or no valid certificate. */
  | 'METROCTL_PERMISSION_DENIED'
  /** The cluster understood and refused the change (validation, already bootstrapped). */
  | 'METROCTL_REJECTED'
  /** A node's identity is not the one expected (--node-id, a changed certificate). */
  | 'METROCTL_UNTRUSTED'
  /** The command or the RPC behind it is not built yet. */
  | 'METROCTL_NOT_BUILT';

export class MetroctlError extends CodedError<MetroctlErrorCode> {}

/**
 * Exit codes, documented in docs/metroctl.md. Scripts may rely on them; never renumber.
 * 130 (interrupted by Ctrl-C) is set by main.ts, not by an error.
 */
export const exitCodes = {
  ok: 0,
  failed: 1,
  usage: 2,
  unreachable: 3,
  notFound: 4,
  permissionDenied: 5,
  rejected: 6,
  untrusted: 7,
  notBuilt: 8,
  config: 9,
  interrupted: 130,
} as const;

const exitCodeByError: Record<MetroctlErrorCode, number> = {
  METROCTL_FAILED: exitCodes.failed,
  METROCTL_USAGE: exitCodes.usage,
  METROCTL_CONFIG: exitCodes.config,
  METROCTL_UNREACHABLE: exitCodes.unreachable,
  METROCTL_NOT_FOUND: exitCodes.notFound,
  METROCTL_PERMISSION_DENIED: exitCodes.permissionDenied,
  METROCTL_REJECTED: exitCodes.rejected,
  METROCTL_UNTRUSTED: exitCodes.untrusted,
  METROCTL_NOT_BUILT: exitCodes.notBuilt,
};

/** The exit code for an error code. */
export function exitCodeFor(code: MetroctlErrorCode): number {
  return exitCodeByError[code];
}

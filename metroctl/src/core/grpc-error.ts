// Turns gRPC failures of node calls (ServiceError with a status code) into MetroctlErrors with
// the node's own explanation, so node RPCs and Kubernetes calls fail the same way.
import { status, type ServiceError } from '@grpc/grpc-js';
import { errorMessage } from '@metropolis/errors';
import { MetroctlError, type MetroctlErrorCode } from '../errors.js';

/** Part of the message our checkServerIdentity callbacks fail with; see pinnedIdentity(). */
export const identityMismatchMarker = 'metroctl: server identity mismatch';

const codeByStatus: Partial<Record<number, MetroctlErrorCode>> = {
  [status.UNAVAILABLE]: 'METROCTL_UNREACHABLE',
  [status.DEADLINE_EXCEEDED]: 'METROCTL_UNREACHABLE',
  [status.PERMISSION_DENIED]: 'METROCTL_PERMISSION_DENIED',
  [status.UNAUTHENTICATED]: 'METROCTL_PERMISSION_DENIED',
  [status.NOT_FOUND]: 'METROCTL_NOT_FOUND',
  [status.FAILED_PRECONDITION]: 'METROCTL_REJECTED',
  [status.INVALID_ARGUMENT]: 'METROCTL_REJECTED',
  [status.ALREADY_EXISTS]: 'METROCTL_REJECTED',
  [status.ABORTED]: 'METROCTL_REJECTED',
  [status.UNIMPLEMENTED]: 'METROCTL_NOT_BUILT',
};

/** Whether `error` is a gRPC call failure. */
export function isServiceError(error: unknown): error is ServiceError {
  return (
    error instanceof Error &&
    'code' in error &&
    typeof error.code === 'number' &&
    'details' in error &&
    typeof error.details === 'string'
  );
}

/** A MetroctlError for a failed node call; `what` says what was being done ("bootstrap ..."). */
export function fromGrpcError(error: unknown, what: string): MetroctlError {
  if (error instanceof MetroctlError) return error;
  if (!isServiceError(error)) {
    return new MetroctlError('METROCTL_FAILED', `cannot ${what}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  if (error.details.includes(identityMismatchMarker)) {
    return new MetroctlError(
      'METROCTL_UNTRUSTED',
      `cannot ${what}: the node's certificate is not the one expected (${error.details})`,
      { cause: error },
    );
  }
  const code = codeByStatus[error.code] ?? 'METROCTL_FAILED';
  const name = Object.keys(status).find((key) => Reflect.get(status, key) === error.code);
  const detail =
    code === 'METROCTL_UNREACHABLE'
      ? `the node is unreachable (${error.details})`
      : `${error.details} (${name ?? `gRPC status ${String(error.code)}`})`;
  return new MetroctlError(code, `cannot ${what}: ${detail}`, { cause: error });
}

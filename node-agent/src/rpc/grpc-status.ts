// The one place where typed errors become gRPC status codes, with messages for humans. An error
// without a code is a bug or an unforeseen failure: its text (paths, errno) stays in the node's log.
import { status, type ServiceError, Metadata } from '@grpc/grpc-js';
import { CodedError, errorMessage } from '@metropolis/errors';
import type { Logger } from '@metropolis/logging';

const byCode: Record<string, status> = {
  AGENT_INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  AGENT_NO_RUNNING_SLOT: status.FAILED_PRECONDITION,
  AGENT_SLOT_NOT_BOOTABLE: status.FAILED_PRECONDITION,
  AGENT_STAGE_IN_PROGRESS: status.ABORTED,
  AGENT_STAGE_REFUSED: status.INVALID_ARGUMENT,
  AGENT_DOWNLOAD_FAILED: status.UNAVAILABLE,
  AGENT_DOWNGRADE_REFUSED: status.FAILED_PRECONDITION,
  AGENT_DEV_KEY_REFUSED: status.FAILED_PRECONDITION,
  AGENT_NOT_BUILT: status.UNIMPLEMENTED,
  AGENT_STORAGE: status.INTERNAL,
  AGENT_PERMISSION_DENIED: status.PERMISSION_DENIED,
  AGENT_CERTIFICATE_REVOKED: status.UNAUTHENTICATED,
  AGENT_CONTROL_PLANE: status.INTERNAL,
  AGENT_ALREADY_OWNED: status.FAILED_PRECONDITION,
  AGENT_NOT_APPROVED: status.FAILED_PRECONDITION,
  AGENT_ROLE_REFUSED: status.FAILED_PRECONDITION,
  AGENT_STILL_CONSENSUS_MEMBER: status.FAILED_PRECONDITION,
  AGENT_CREDENTIALS: status.UNAVAILABLE,
  AGENT_ALREADY_REBOOTED: status.FAILED_PRECONDITION,
  AGENT_TOO_MANY_PENDING: status.RESOURCE_EXHAUSTED,
  AGENT_ADDRESS_IN_USE: status.ALREADY_EXISTS,
};

/** Trailer that carries a coded error's stable code, so a client can tell refusals apart. */
export const errorCodeMetadataKey = 'metropolis-error-code';

/** What a caller is told about an error without a code. */
export const internalErrorMessage = "internal error; see the node's logs";

/** A grpc-js error for anything thrown by a handler; `log` gets the details of uncoded ones. */
export function toServiceError(error: unknown, log: Logger): Partial<ServiceError> {
  const coded: CodedError | undefined = error instanceof CodedError ? error : undefined;
  if (coded === undefined) {
    log.error('unexpected error in an RPC', {
      error: errorMessage(error),
      ...(error instanceof Error && error.stack !== undefined ? { stack: error.stack } : {}),
    });
    return serviceError(status.INTERNAL, internalErrorMessage);
  }
  return serviceError(byCode[coded.code] ?? status.INTERNAL, coded.message, coded.code);
}

function serviceError(code: status, details: string, errorCode?: string): Partial<ServiceError> {
  const metadata = new Metadata();
  if (errorCode !== undefined) metadata.set(errorCodeMetadataKey, errorCode);
  return { code, details, message: details, metadata };
}

// The one place where typed errors become gRPC status codes, with messages for humans.
import { status, type ServiceError, Metadata } from '@grpc/grpc-js';
import { CodedError, errorMessage } from '@metropolis/errors';

const byCode: Record<string, status> = {
  AGENT_INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  AGENT_NO_RUNNING_SLOT: status.FAILED_PRECONDITION,
  AGENT_SLOT_NOT_BOOTABLE: status.FAILED_PRECONDITION,
  AGENT_STAGE_IN_PROGRESS: status.ABORTED,
  AGENT_STAGE_REFUSED: status.INVALID_ARGUMENT,
  AGENT_DOWNLOAD_FAILED: status.UNAVAILABLE,
  AGENT_NOT_BUILT: status.UNIMPLEMENTED,
  AGENT_STORAGE: status.INTERNAL,
  AGENT_PERMISSION_DENIED: status.PERMISSION_DENIED,
  AGENT_CONTROL_PLANE: status.INTERNAL,
  AGENT_ALREADY_OWNED: status.FAILED_PRECONDITION,
  AGENT_NOT_APPROVED: status.FAILED_PRECONDITION,
  AGENT_ROLE_REFUSED: status.FAILED_PRECONDITION,
  AGENT_CREDENTIALS: status.UNAVAILABLE,
  AGENT_ALREADY_REBOOTED: status.FAILED_PRECONDITION,
};

/** A grpc-js error for anything thrown by a handler. */
export function toServiceError(error: unknown): Partial<ServiceError> {
  const coded: CodedError | undefined = error instanceof CodedError ? error : undefined;
  const errorCode = coded?.code ?? '';
  const code = byCode[errorCode] ?? status.INTERNAL;
  const details = errorMessage(error);
  return { code, details, message: details, metadata: new Metadata() };
}

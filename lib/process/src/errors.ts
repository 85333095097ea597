// Typed errors of @metropolis/process.
import { CodedError } from '@metropolis/errors';

export type ProcessErrorCode = 'PROCESS_SPAWN_FAILED' | 'PROCESS_BINARY_MISSING';

export class ProcessError extends CodedError<ProcessErrorCode> {}

// Typed errors of @metropolis/testing.
import { CodedError } from '@metropolis/errors';

export type TestingErrorCode =
  | 'CONTROL_PLANE_BINARIES_UNSET'
  | 'CONTROL_PLANE_EXITED'
  | 'CONTROL_PLANE_START_TIMEOUT'
  | 'HAPPENED';

export class TestingError extends CodedError<TestingErrorCode> {}

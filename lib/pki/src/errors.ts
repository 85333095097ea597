// Typed errors of @metropolis/pki.
import { CodedError } from '@metropolis/errors';

export type PkiErrorCode =
  'PKI_INVALID_PEM' | 'PKI_INVALID_KEY' | 'PKI_INVALID_REQUEST' | 'PKI_INVALID_SIGNATURE';

export class PkiError extends CodedError<PkiErrorCode> {}

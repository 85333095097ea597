// Typed errors of @metropolis/efi: callers match on `code`, never on message text.
import { CodedError } from '@metropolis/errors';

/**
 * - `EFI_VAR_NOT_FOUND`: the variable does not exist.
 * - `EFI_MALFORMED`: bytes that do not decode; the message names what and the byte offset.
 * - `EFI_INVALID_ARGUMENT`: a value that cannot be encoded (out of range, NUL in a string, ...).
 * - `EFI_NO_FREE_ENTRY`: every Boot#### number from 0000 to FFFE is taken.
 * - `EFI_IO`: the file system refused (the cause is attached).
 */
export type EfiErrorCode =
  'EFI_VAR_NOT_FOUND' | 'EFI_MALFORMED' | 'EFI_INVALID_ARGUMENT' | 'EFI_NO_FREE_ENTRY' | 'EFI_IO';

export class EfiError extends CodedError<EfiErrorCode> {}

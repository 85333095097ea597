// The firmware's view of a process-flavour loader: the format (encode and decode) is a contract
// in @metropolis/api; here a file that is not one becomes a typed error.
import { decodeProcessLoader, type ProcessLoader } from '@metropolis/api';
import { ProcessNodeError } from './errors.js';

/**
 * Decodes a loader file.
 * @throws {ProcessNodeError} `LOADER_INVALID` for anything the process firmware cannot start.
 */
export function parseProcessLoader(bytes: Uint8Array): ProcessLoader {
  const decoded = decodeProcessLoader(bytes);
  if ('invalid' in decoded) {
    throw new ProcessNodeError('LOADER_INVALID', `not a process loader: ${decoded.invalid}`);
  }
  return decoded.loader;
}

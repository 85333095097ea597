// Typed errors of @metropolis/process-node: callers match on `code`, never on message text.
import { CodedError } from '@metropolis/errors';

/**
 * - `OPTIONS_INVALID`: a name, size or option that cannot work (the message says which).
 * - `NODE_DIR_INVALID`: an existing node directory whose disk.json or slot files do not fit.
 * - `NODE_POWERED` / `NODE_OFF`: the call needs the node off, or on.
 * - `NODE_HALTED`: the firmware stopped: nothing bootable, or a boot loop.
 * - `AGENT_NOT_RUNNING`: the call needs the agent running (not booting, halted or off).
 * - `BOOT_TIMEOUT`: a wait for a boot ran out of time.
 * - `LOADER_INVALID`: a file that is not a process-flavour loader.
 * - `SYSTEM_IMAGE_INVALID`: a slot without a usable system image.
 * - `SYSTEM_IMAGE_TOO_LARGE`: a system image larger than the slot.
 * - `NETWORK_EXISTS`: the bridge or namespace already exists (a leftover, or a name clash).
 * - `NETWORK_ADDRESS_INVALID` / `NETWORK_ADDRESSES_EXHAUSTED`: addressing problems.
 * - `NETWORK_COMMAND_FAILED`: an `ip` command failed (its stderr is in the message).
 */
export type ProcessNodeErrorCode =
  | 'OPTIONS_INVALID'
  | 'NODE_DIR_INVALID'
  | 'NODE_POWERED'
  | 'NODE_OFF'
  | 'NODE_HALTED'
  | 'AGENT_NOT_RUNNING'
  | 'BOOT_TIMEOUT'
  | 'LOADER_INVALID'
  | 'SYSTEM_IMAGE_INVALID'
  | 'SYSTEM_IMAGE_TOO_LARGE'
  | 'NETWORK_EXISTS'
  | 'NETWORK_ADDRESS_INVALID'
  | 'NETWORK_ADDRESSES_EXHAUSTED'
  | 'NETWORK_COMMAND_FAILED';

export class ProcessNodeError extends CodedError<ProcessNodeErrorCode> {}

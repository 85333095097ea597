// Node IDs of keys a peer presents: the derivation (nodeIdOf) is the shared contract in
// @metropolis/api; metroctl adds the check that the key is an Ed25519 key at all.
import { nodeIdOf } from '@metropolis/api';
import { MetroctlError } from '../errors.js';

/** The node ID a raw 32-byte Ed25519 public key stands for. */
export function nodeIdFromPublicKey(raw: Uint8Array): string {
  if (raw.length !== 32) {
    throw new MetroctlError(
      'METROCTL_FAILED',
      `an Ed25519 public key has 32 bytes, not ${String(raw.length)}`,
    );
  }
  return nodeIdOf(raw);
}

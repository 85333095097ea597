// Node IDs as Monogon derives them: "metropolis-" + lowercase hex of the first 16 bytes of the
// node's raw Ed25519 public key. A node ID is therefore bound to the key that proves it.
import { MetroctlError } from '../errors.js';

const nodeIdPattern = /^metropolis-[0-9a-f]{32}$/;

/** The node ID a raw 32-byte Ed25519 public key stands for. */
export function nodeIdFromPublicKey(raw: Uint8Array): string {
  if (raw.length !== 32) {
    throw new MetroctlError(
      'METROCTL_FAILED',
      `an Ed25519 public key has 32 bytes, not ${String(raw.length)}`,
    );
  }
  return `metropolis-${Buffer.from(raw.subarray(0, 16)).toString('hex')}`;
}

/** Whether `text` has the shape of a node ID. */
export function isNodeId(text: string): boolean {
  return nodeIdPattern.test(text);
}

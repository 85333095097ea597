// Node IDs as Monogon derives them: "metropolis-" + lowercase hex of the first 16 bytes of the
// node's raw Ed25519 public key, so an ID is bound to the key that proves it.

/** The shape of every node ID (and every MonogonNode name). */
export const nodeIdPattern = /^metropolis-[0-9a-f]{32}$/;

/** The node ID a raw Ed25519 public key stands for. */
export function nodeIdOf(rawPublicKey: Uint8Array): string {
  return `metropolis-${Buffer.from(rawPublicKey.subarray(0, 16)).toString('hex')}`;
}

/** Whether `text` has the shape of a node ID. */
export function isNodeId(text: string): boolean {
  return nodeIdPattern.test(text);
}

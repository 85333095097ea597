// What a key holder signs to prove it holds the key: the owner at Bootstrap, a joining node at
// Register and Commit. Each message is domain-separated and bound to what it authorizes, so a
// signature for one purpose never serves another.

const encoder = new TextEncoder();

function message(domain: string, ...parts: readonly Uint8Array[]): Uint8Array {
  return Buffer.concat([encoder.encode(`${domain}\0`), ...parts]);
}

/** The owner signs this to bootstrap the node `nodeId` (the CN its TLS certificate shows). */
export function bootstrapProof(nodeId: string): Uint8Array {
  return message('metropolis-bootstrap-v1', encoder.encode(nodeId));
}

/** A joining node signs this, with a nonce from the CA holder, to register at `address`. */
export function registerProof(nonce: Uint8Array, address: string): Uint8Array {
  return message('metropolis-register-v1', nonce, encoder.encode(address));
}

/** A joining node signs this, with a nonce from the CA holder, to collect its certificate. */
export function commitProof(nonce: Uint8Array): Uint8Array {
  return message('metropolis-commit-v1', nonce);
}

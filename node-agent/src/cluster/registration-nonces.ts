// Nonces a joining node signs to prove it holds its key. Stateless: a nonce carries its expiry
// and a MAC under a per-process secret, so handing them out to anyone costs no memory.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** How long a nonce may be signed and used. */
export const nonceLifetimeMs = 60_000;

const expiryBytes = 8;
const randomPartBytes = 16;
const macBytes = 16;

export class RegistrationNonces {
  #secret = randomBytes(32);
  #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  issue(): Buffer {
    const body = Buffer.alloc(expiryBytes + randomPartBytes);
    body.writeBigUInt64BE(BigInt(this.#now() + nonceLifetimeMs));
    randomBytes(randomPartBytes).copy(body, expiryBytes);
    return Buffer.concat([body, this.#mac(body)]);
  }

  /** Whether this process issued `nonce` and it has not expired. */
  valid(nonce: Uint8Array): boolean {
    if (nonce.length !== expiryBytes + randomPartBytes + macBytes) return false;
    const body = Buffer.from(nonce.subarray(0, expiryBytes + randomPartBytes));
    const mac = nonce.subarray(expiryBytes + randomPartBytes);
    if (!timingSafeEqual(mac, this.#mac(body))) return false;
    return Number(body.readBigUInt64BE()) > this.#now();
  }

  #mac(body: Buffer): Buffer {
    return createHmac('sha256', this.#secret).update(body).digest().subarray(0, macBytes);
  }
}

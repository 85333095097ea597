// Key pairs for certificates and signatures: Ed25519 wherever every peer accepts it (as
// Monogon does), ECDSA P-256 where a peer does not (e.g. Kubernetes service-account tokens).
// Node's own crypto reads and writes their PEM, so a program that only holds a key does not
// load the X.509 library.
import { KeyObject, createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';
import { PkiError } from './errors.js';

export type KeyAlgorithm = 'ed25519' | 'ecdsa-p256';

type WebCryptoKey = webcrypto.CryptoKey;

const algorithms = {
  ed25519: { name: 'Ed25519' },
  'ecdsa-p256': { name: 'ECDSA', namedCurve: 'P-256' },
} as const satisfies Record<KeyAlgorithm, webcrypto.EcKeyImportParams | webcrypto.Algorithm>;

/** A private key with its public half, exportable as PEM (PKCS#8 / SPKI). */
export class KeyPair {
  readonly algorithm: KeyAlgorithm;
  readonly privateKey: WebCryptoKey;
  readonly publicKey: WebCryptoKey;

  private constructor(algorithm: KeyAlgorithm, privateKey: WebCryptoKey, publicKey: WebCryptoKey) {
    this.algorithm = algorithm;
    this.privateKey = privateKey;
    this.publicKey = publicKey;
  }

  static async generate(algorithm: KeyAlgorithm = 'ed25519'): Promise<KeyPair> {
    const pair = (await webcrypto.subtle.generateKey(algorithms[algorithm], true, [
      'sign',
      'verify',
    ])) as webcrypto.CryptoKeyPair;
    return new KeyPair(algorithm, pair.privateKey, pair.publicKey);
  }

  /** Loads a PKCS#8 PEM private key (as written by {@link KeyPair.privateKeyPem}). */
  static async fromPrivateKeyPem(pem: string): Promise<KeyPair> {
    const der = pkcs8Der(pem);
    for (const algorithm of Object.keys(algorithms) as KeyAlgorithm[]) {
      try {
        const privateKey = await webcrypto.subtle.importKey(
          'pkcs8',
          der,
          algorithms[algorithm],
          true,
          ['sign'],
        );
        // WebCrypto cannot derive a public key; a JWK round trip without `d` can.
        const { d: _d, ...publicJwk } = await webcrypto.subtle.exportKey('jwk', privateKey);
        const publicKey = await webcrypto.subtle.importKey(
          'jwk',
          { ...publicJwk, key_ops: ['verify'] },
          algorithms[algorithm],
          true,
          ['verify'],
        );
        return new KeyPair(algorithm, privateKey, publicKey);
      } catch {
        // Not this algorithm; try the next one.
      }
    }
    throw new PkiError('PKI_INVALID_KEY', 'private key is neither Ed25519 nor ECDSA P-256 PKCS#8');
  }

  privateKeyPem(): Promise<string> {
    return Promise.resolve(pemOf(this.privateKey, 'pkcs8'));
  }

  publicKeyPem(): Promise<string> {
    return Promise.resolve(pemOf(this.publicKey, 'spki'));
  }

  /** The raw public key: 32 bytes for Ed25519, the uncompressed point for P-256. */
  async rawPublicKey(): Promise<Uint8Array> {
    return new Uint8Array(await webcrypto.subtle.exportKey('raw', this.publicKey));
  }

  /** Signs `data` (Ed25519, or ECDSA P-256 with SHA-256). */
  async sign(data: Uint8Array): Promise<Uint8Array> {
    return new Uint8Array(
      await webcrypto.subtle.sign(signingAlgorithm(this.algorithm), this.privateKey, data),
    );
  }
}

/** Whether `signature` is the raw Ed25519 key's signature over `data`; false for a bad key. */
export async function verifyEd25519(
  rawPublicKey: Uint8Array,
  data: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  try {
    const key = await ed25519PublicKeyFromRaw(rawPublicKey);
    return await webcrypto.subtle.verify(algorithms.ed25519, key, signature, data);
  } catch {
    return false;
  }
}

/** The raw 32 bytes of an Ed25519 public key given as SPKI PEM (as node parameters list it). */
export function ed25519RawFromPem(pem: string): Uint8Array {
  let jwk: webcrypto.JsonWebKey;
  try {
    jwk = createPublicKey({ key: pem, format: 'pem' }).export({ format: 'jwk' });
  } catch (cause) {
    throw new PkiError('PKI_INVALID_PEM', 'not PEM: expected a PUBLIC KEY block', { cause });
  }
  if (jwk.crv !== 'Ed25519' || jwk.x === undefined) {
    throw new PkiError('PKI_INVALID_KEY', 'not an Ed25519 public key');
  }
  return new Uint8Array(Buffer.from(jwk.x, 'base64url'));
}

/** Imports a raw 32-byte Ed25519 public key (as a peer sends it) for certification. */
export async function ed25519PublicKeyFromRaw(raw: Uint8Array): Promise<WebCryptoKey> {
  if (raw.length !== 32) {
    throw new PkiError(
      'PKI_INVALID_KEY',
      `an Ed25519 public key has 32 bytes, not ${String(raw.length)}`,
    );
  }
  return webcrypto.subtle.importKey('raw', raw, algorithms.ed25519, true, ['verify']);
}

/**
 * Imports a PEM SPKI public key (as a peer sends it for certification): Ed25519 or ECDSA P-256
 * only, the algorithms this package certifies.
 */
export async function publicKeyFromPem(pem: string): Promise<WebCryptoKey> {
  let key: KeyObject;
  try {
    // A private key would pass too (its public half is derived): only a public key is taken.
    if (!pem.trimStart().startsWith('-----BEGIN PUBLIC KEY-----')) throw new Error('not SPKI');
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (cause) {
    throw new PkiError('PKI_INVALID_PEM', 'not PEM: expected a PUBLIC KEY block', { cause });
  }
  const algorithm: KeyAlgorithm | undefined =
    key.asymmetricKeyType === 'ed25519'
      ? 'ed25519'
      : key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1'
        ? 'ecdsa-p256'
        : undefined;
  if (algorithm === undefined) {
    throw new PkiError('PKI_INVALID_KEY', 'public key is neither Ed25519 nor ECDSA P-256');
  }
  const der = new Uint8Array(key.export({ type: 'spki', format: 'der' }));
  return webcrypto.subtle.importKey('spki', der, algorithms[algorithm], true, ['verify']);
}

/** A key as PEM (PKCS#8 or SPKI), without a final newline: as these keys were always written. */
function pemOf(key: WebCryptoKey, type: 'pkcs8' | 'spki'): string {
  return String(KeyObject.from(key).export({ type, format: 'pem' })).trimEnd();
}

/** The PKCS#8 DER of the private key in `pem`. */
function pkcs8Der(pem: string): ArrayBuffer {
  let der: Buffer;
  try {
    der = createPrivateKey({ key: pem, format: 'pem' }).export({ type: 'pkcs8', format: 'der' });
  } catch (cause) {
    throw new PkiError('PKI_INVALID_PEM', 'not PEM: expected a PRIVATE KEY block', { cause });
  }
  return new Uint8Array(der).buffer;
}

/** WebCrypto signing parameters for a key of the given algorithm. */
export function signingAlgorithm(
  algorithm: KeyAlgorithm,
): webcrypto.Algorithm | webcrypto.EcdsaParams {
  return algorithm === 'ed25519' ? { name: 'Ed25519' } : { name: 'ECDSA', hash: 'SHA-256' };
}

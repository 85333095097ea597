// Key pairs for certificates and signatures: Ed25519 wherever every peer accepts it (as
// Monogon does), ECDSA P-256 where a peer does not (e.g. Kubernetes service-account tokens).
import { webcrypto } from 'node:crypto';
import { PemConverter } from '@peculiar/x509';
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
    const der = decodePem(pem, 'PRIVATE KEY');
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

  async privateKeyPem(): Promise<string> {
    const der = await webcrypto.subtle.exportKey('pkcs8', this.privateKey);
    return PemConverter.encode(der, 'PRIVATE KEY');
  }

  async publicKeyPem(): Promise<string> {
    const der = await webcrypto.subtle.exportKey('spki', this.publicKey);
    return PemConverter.encode(der, 'PUBLIC KEY');
  }

  /** The raw public key: 32 bytes for Ed25519, the uncompressed point for P-256. */
  async rawPublicKey(): Promise<Uint8Array> {
    return new Uint8Array(await webcrypto.subtle.exportKey('raw', this.publicKey));
  }
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

/** The DER body of the first PEM block with the given label. */
export function decodePem(pem: string, label: string): ArrayBuffer {
  let blocks: ArrayBuffer[];
  try {
    blocks = PemConverter.decodeWithHeaders(pem)
      .filter((block) => block.type === label)
      .map((block) => block.rawData);
  } catch (cause) {
    throw new PkiError('PKI_INVALID_PEM', `not PEM: expected a ${label} block`, { cause });
  }
  const [first] = blocks;
  if (first === undefined) {
    throw new PkiError('PKI_INVALID_PEM', `no ${label} block in PEM input`);
  }
  return first;
}

/** WebCrypto signing parameters for a key of the given algorithm. */
export function signingAlgorithm(
  algorithm: KeyAlgorithm,
): webcrypto.Algorithm | webcrypto.EcdsaParams {
  return algorithm === 'ed25519' ? { name: 'Ed25519' } : { name: 'ECDSA', hash: 'SHA-256' };
}

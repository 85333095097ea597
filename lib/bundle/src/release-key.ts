// Release keys: the Ed25519 keys that sign bundles. Nodes hold only public halves; a key is
// named by its keyId so a manifest can say which trusted key must verify it.
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { BundleError } from './errors.js';

/** A public release key a node trusts. */
/**
 * keyId of the development release key committed in os-image/keys: publicly known, so a node
 * trusts it only when its parameters mark it as a development node.
 */
export const developmentReleaseKeyId = 'b11222d811dc7d2e';

export interface ReleaseKey {
  /** Hex of the first 8 bytes of sha256(raw 32-byte public key). */
  readonly keyId: string;
  readonly publicKey: KeyObject;
}

/** A private release key, for builders. */
export interface SigningKey {
  readonly keyId: string;
  readonly privateKey: KeyObject;
  /** Its public half, as nodes would trust it. */
  readonly releaseKey: ReleaseKey;
}

/**
 * Loads an Ed25519 public key from SPKI PEM (`-----BEGIN PUBLIC KEY-----`). Text around the
 * PEM block (e.g. a comment line) is ignored.
 * @throws BundleError BUNDLE_INVALID_KEY, also for a private key: nodes are given only the
 * public half, so a private key here is a misconfiguration worth stopping at.
 */
export function releaseKeyFromPem(pem: string): ReleaseKey {
  if (/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(pem)) {
    throw new BundleError(
      'BUNDLE_INVALID_KEY',
      'release key PEM holds a private key; trust only the public half (a "PUBLIC KEY" PEM block)',
    );
  }
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey(pem);
  } catch (cause) {
    throw new BundleError(
      'BUNDLE_INVALID_KEY',
      'release key is not a readable SPKI public key PEM',
      {
        cause,
      },
    );
  }
  requireEd25519(publicKey, 'release key');
  return Object.freeze({ keyId: keyIdOf(publicKey), publicKey });
}

/**
 * Loads an Ed25519 private key from PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
 * @throws BundleError BUNDLE_INVALID_KEY.
 */
export function signingKeyFromPem(pem: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (cause) {
    throw new BundleError(
      'BUNDLE_INVALID_KEY',
      'signing key is not a readable PKCS#8 private key PEM',
      {
        cause,
      },
    );
  }
  requireEd25519(privateKey, 'signing key');
  const publicKey = createPublicKey(privateKey);
  const keyId = keyIdOf(publicKey);
  return Object.freeze({ keyId, privateKey, releaseKey: Object.freeze({ keyId, publicKey }) });
}

/** The keyId of an Ed25519 public key: hex of the first 8 bytes of sha256(raw public key). */
export function keyIdOf(publicKey: KeyObject): string {
  const { x } = publicKey.export({ format: 'jwk' });
  if (x === undefined) {
    throw new BundleError('BUNDLE_INVALID_KEY', 'key has no raw Ed25519 public value');
  }
  const raw = Buffer.from(x, 'base64url');
  return createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

function requireEd25519(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new BundleError(
      'BUNDLE_INVALID_KEY',
      `${what} is ${key.asymmetricKeyType ?? 'not an asymmetric key'}; release keys are Ed25519`,
    );
  }
}

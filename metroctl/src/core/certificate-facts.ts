// What metroctl needs to know about an X.509 certificate (node:crypto): fingerprint, common
// name, the raw Ed25519 key it certifies. Names and keys only; trust decisions are the caller's.
import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { MetroctlError } from '../errors.js';

/** The facts about one certificate. */
export interface CertificateFacts {
  readonly certificate: X509Certificate;
  readonly pem: string;
  /** sha256 of the DER encoding, lowercase hex (as `sha256sum` of the DER prints it). */
  readonly sha256: string;
  /** The subject's common name; empty when it has none. */
  readonly commonName: string;
  /** The raw 32-byte Ed25519 public key; undefined for other key types. */
  readonly ed25519PublicKey: Uint8Array | undefined;
}

/** Facts about a certificate in PEM or DER; METROCTL_FAILED (naming `what`) if unparsable. */
export function certificateFacts(input: string | Buffer, what: string): CertificateFacts {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(input);
  } catch (cause) {
    throw new MetroctlError('METROCTL_FAILED', `${what} is not an X.509 certificate`, { cause });
  }
  return {
    certificate,
    pem: certificate.toString(),
    sha256: sha256Hex(certificate.raw),
    commonName: commonNameOf(certificate),
    ed25519PublicKey: ed25519Raw(certificate.publicKey),
  };
}

/** sha256 of `data`, lowercase hex. */
export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function commonNameOf(certificate: X509Certificate): string {
  // node:crypto prints the subject as one "KEY=value" per line.
  const line = certificate.subject.split('\n').find((entry) => entry.startsWith('CN='));
  return line === undefined ? '' : line.slice('CN='.length);
}

function ed25519Raw(key: KeyObject): Uint8Array | undefined {
  if (key.asymmetricKeyType !== 'ed25519') return undefined;
  const jwk = key.export({ format: 'jwk' });
  return jwk.x === undefined ? undefined : new Uint8Array(Buffer.from(jwk.x, 'base64url'));
}

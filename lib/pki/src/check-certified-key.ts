// Whether a certificate certifies a given key, and parsing PEM certificates: what a CA or a
// client checks before it relies on a certificate and key read from disk.
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { PkiError } from './errors.js';
import type { KeyPair } from './key-pair.js';

/** Parses a PEM X.509 certificate. PKI_INVALID_PEM if it is none. */
export function parseCertificate(pem: string): x509.X509Certificate {
  try {
    return new x509.X509Certificate(pem);
  } catch (cause) {
    throw new PkiError('PKI_INVALID_PEM', 'not a PEM X.509 certificate', { cause });
  }
}

/** PKI_INVALID_KEY unless `certificate` certifies the public half of `keyPair`. */
export async function checkCertifiedKey(
  certificate: x509.X509Certificate,
  keyPair: KeyPair,
): Promise<void> {
  const certifiedKey = Buffer.from(certificate.publicKey.rawData);
  const ownKey = Buffer.from(await webcrypto.subtle.exportKey('spki', keyPair.publicKey));
  if (!certifiedKey.equals(ownKey)) {
    throw new PkiError('PKI_INVALID_KEY', 'the private key does not belong to the certificate');
  }
}

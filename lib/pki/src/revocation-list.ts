// Certificate revocation lists (RFC 5280 section 5): a CA signs the serials it revoked, and a
// server that trusts the CA refuses a client whose serial is listed. Built on @peculiar/x509.
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { PkiError } from './errors.js';
import { signingAlgorithm, type KeyPair } from './key-pair.js';

export interface RevokedCertificate {
  /** The certificate's serial number, hex (any case, leading zeros allowed). */
  readonly serial: string;
  readonly revokedAt: Date;
}

/**
 * A signed list of revoked serials, as PEM (`X509 CRL`). `nextUpdate` tells readers when a newer
 * list is due; the list is complete at `thisUpdate`.
 */
export async function signRevocationList(
  issuer: { readonly certificate: x509.X509Certificate; readonly keyPair: KeyPair },
  revoked: readonly RevokedCertificate[],
  nextUpdate: Date,
): Promise<string> {
  const crl = await x509.X509CrlGenerator.create(
    {
      issuer: issuer.certificate.subject,
      thisUpdate: new Date(),
      nextUpdate,
      signingKey: issuer.keyPair.privateKey,
      signingAlgorithm: signingAlgorithm(issuer.keyPair.algorithm),
      entries: revoked.map((entry) => ({
        serialNumber: entry.serial.replace(/:/g, '').toLowerCase(),
        revocationDate: entry.revokedAt,
        // Also keeps the entry's extension list non-empty, as RFC 5280 requires of one present.
        reason: x509.X509CrlReason.cessationOfOperation,
      })),
      extensions: [
        await x509.AuthorityKeyIdentifierExtension.create(
          issuer.keyPair.publicKey,
          false,
          webcrypto,
        ),
      ],
    },
    webcrypto,
  );
  // The label OpenSSL and Go read (`X509 CRL`); the library writes `CRL`.
  return x509.PemConverter.encode(crl.rawData, 'X509 CRL');
}

/** A revocation list read back and checked against the CA that must have signed it. */
export class RevocationList {
  readonly #serials: ReadonlySet<string>;
  readonly thisUpdate: Date;

  private constructor(serials: ReadonlySet<string>, thisUpdate: Date) {
    this.#serials = serials;
    this.thisUpdate = thisUpdate;
  }

  /** PKI_INVALID_PEM if `pem` is no CRL; PKI_INVALID_SIGNATURE unless `issuerPem` signed it. */
  static async parse(pem: string, issuerPem: string): Promise<RevocationList> {
    let crl: x509.X509Crl;
    try {
      crl = new x509.X509Crl(pem);
    } catch (cause) {
      throw new PkiError('PKI_INVALID_PEM', 'not a PEM X.509 CRL', { cause });
    }
    const issuer = new x509.X509Certificate(issuerPem);
    if (!(await crl.verify({ publicKey: issuer.publicKey }, webcrypto))) {
      throw new PkiError('PKI_INVALID_SIGNATURE', 'the revocation list is not signed by its CA');
    }
    return new RevocationList(
      new Set(crl.entries.map((entry) => normalSerial(entry.serialNumber))),
      crl.thisUpdate,
    );
  }

  /** An empty list, for a reader that has not received one yet. */
  static empty(): RevocationList {
    return new RevocationList(new Set(), new Date(0));
  }

  get size(): number {
    return this.#serials.size;
  }

  /** Whether the certificate with this serial (hex, as Node's TLS peer certificate gives it) is revoked. */
  revokes(serial: string): boolean {
    return this.#serials.has(normalSerial(serial));
  }
}

/** Upper-case hex without leading zeros: Node writes serials one way, @peculiar/x509 another. */
function normalSerial(serial: string): string {
  const hex = serial.replace(/:/g, '').toUpperCase().replace(/^0+/, '');
  return hex === '' ? '0' : hex;
}

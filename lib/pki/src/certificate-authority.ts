// A certificate authority that issues server and client certificates. It knows X.509 and
// nothing of the cluster: which names and roles go into a certificate is the caller's policy.
import { webcrypto, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';
import { checkCertifiedKey, parseCertificate } from './check-certified-key.js';
import { PkiError } from './errors.js';
import { KeyPair, signingAlgorithm, type KeyAlgorithm } from './key-pair.js';
import { clockSkewMs } from './validity.js';

/**
 * RFC 5280 4.1.2.5: "no well-defined expiration date". Monogon issues its CA and node
 * certificates this way; a cluster OS without rotation must not stop working after a year.
 */
export const noExpiry = new Date('9999-12-31T23:59:59Z');

export type CertificateUsage = 'server' | 'client';

export interface CertificateRequest {
  /** Subject common name, e.g. a node ID or `kube-apiserver`. */
  readonly commonName: string;
  /** Subject organizations; Kubernetes reads them as groups (e.g. `system:masters`). */
  readonly organizations?: readonly string[];
  /** Extended key usages. At least one. */
  readonly usages: readonly CertificateUsage[];
  /** Subject alternative names: DNS names and IPv4/IPv6 addresses. */
  readonly hosts?: readonly string[];
  /** Algorithm of a newly generated key pair. @default 'ed25519' */
  readonly algorithm?: KeyAlgorithm;
  /** @default noExpiry */
  readonly notAfter?: Date;
}

export interface IssuedCertificate {
  readonly certificatePem: string;
  readonly keyPair: KeyPair;
}

export interface CreateCertificateAuthorityOptions {
  readonly commonName: string;
  /** @default 'ed25519' */
  readonly algorithm?: KeyAlgorithm;
  /** @default noExpiry */
  readonly notAfter?: Date;
}

/** A CA certificate and its private key. */
export class CertificateAuthority {
  readonly certificate: x509.X509Certificate;
  readonly keyPair: KeyPair;

  private constructor(certificate: x509.X509Certificate, keyPair: KeyPair) {
    this.certificate = certificate;
    this.keyPair = keyPair;
  }

  /** Creates a new self-signed CA. */
  static async create(options: CreateCertificateAuthorityOptions): Promise<CertificateAuthority> {
    const keyPair = await KeyPair.generate(options.algorithm ?? 'ed25519');
    const name = distinguishedName(options.commonName, []);
    const certificate = await x509.X509CertificateGenerator.createSelfSigned(
      {
        serialNumber: serialNumber(),
        name,
        notBefore: new Date(Date.now() - clockSkewMs),
        notAfter: options.notAfter ?? noExpiry,
        keys: { privateKey: keyPair.privateKey, publicKey: keyPair.publicKey },
        signingAlgorithm: signingAlgorithm(keyPair.algorithm),
        extensions: [
          new x509.BasicConstraintsExtension(true, undefined, true),
          new x509.KeyUsagesExtension(
            x509.KeyUsageFlags.keyCertSign |
              x509.KeyUsageFlags.cRLSign |
              x509.KeyUsageFlags.digitalSignature,
            true,
          ),
          await x509.SubjectKeyIdentifierExtension.create(keyPair.publicKey, false, webcrypto),
        ],
      },
      webcrypto,
    );
    return new CertificateAuthority(certificate, keyPair);
  }

  /** Loads a CA from its PEM certificate and PKCS#8 PEM private key. */
  static async load(certificatePem: string, privateKeyPem: string): Promise<CertificateAuthority> {
    const certificate = parseCertificate(certificatePem);
    const keyPair = await KeyPair.fromPrivateKeyPem(privateKeyPem);
    await checkCertifiedKey(certificate, keyPair);
    return new CertificateAuthority(certificate, keyPair);
  }

  get certificatePem(): string {
    return this.certificate.toString('pem');
  }

  /** Generates a key pair and issues a leaf certificate for it. */
  async issue(request: CertificateRequest): Promise<IssuedCertificate> {
    const keyPair = await KeyPair.generate(request.algorithm ?? 'ed25519');
    return { certificatePem: await this.certify(keyPair.publicKey, request), keyPair };
  }

  /** Issues a leaf certificate for a public key the subject already holds; returns its PEM. */
  async certify(publicKey: webcrypto.CryptoKey, request: CertificateRequest): Promise<string> {
    if (request.commonName === '') {
      throw new PkiError('PKI_INVALID_REQUEST', 'a certificate needs a common name');
    }
    if (request.usages.length === 0) {
      throw new PkiError('PKI_INVALID_REQUEST', 'a certificate needs at least one usage');
    }

    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(
        request.usages.map((usage) =>
          usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
        ),
        false,
      ),
      await x509.SubjectKeyIdentifierExtension.create(publicKey, false, webcrypto),
      await x509.AuthorityKeyIdentifierExtension.create(this.keyPair.publicKey, false, webcrypto),
    ];
    const hosts = request.hosts ?? [];
    if (hosts.length > 0) {
      extensions.push(
        new x509.SubjectAlternativeNameExtension(
          hosts.map((host) => ({ type: isIP(host) === 0 ? 'dns' : 'ip', value: host })),
          false,
        ),
      );
    }
    const certificate = await x509.X509CertificateGenerator.create(
      {
        serialNumber: serialNumber(),
        subject: distinguishedName(request.commonName, request.organizations ?? []),
        issuer: this.certificate.subject,
        notBefore: new Date(Date.now() - clockSkewMs),
        notAfter: request.notAfter ?? noExpiry,
        publicKey,
        signingKey: this.keyPair.privateKey,
        signingAlgorithm: signingAlgorithm(this.keyPair.algorithm),
        extensions,
      },
      webcrypto,
    );
    return certificate.toString('pem');
  }
}

/**
 * A certificate for `keyPair` signed by itself, for a server that has no CA yet and is trusted
 * on first use (an unowned node's bootstrap endpoint).
 */
export async function selfSignedCertificate(
  keyPair: KeyPair,
  request: CertificateRequest,
): Promise<string> {
  if (request.commonName === '' || request.usages.length === 0) {
    throw new PkiError('PKI_INVALID_REQUEST', 'a certificate needs a common name and a usage');
  }
  const hosts = request.hosts ?? [];
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serialNumber(),
      name: distinguishedName(request.commonName, request.organizations ?? []),
      notBefore: new Date(Date.now() - clockSkewMs),
      notAfter: request.notAfter ?? noExpiry,
      keys: { privateKey: keyPair.privateKey, publicKey: keyPair.publicKey },
      signingAlgorithm: signingAlgorithm(keyPair.algorithm),
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension(
          request.usages.map((usage) =>
            usage === 'server'
              ? x509.ExtendedKeyUsage.serverAuth
              : x509.ExtendedKeyUsage.clientAuth,
          ),
          false,
        ),
        ...(hosts.length > 0
          ? [
              new x509.SubjectAlternativeNameExtension(
                hosts.map((host) => ({ type: isIP(host) === 0 ? 'dns' : 'ip', value: host })),
                false,
              ),
            ]
          : []),
      ],
    },
    webcrypto,
  );
  return certificate.toString('pem');
}

function distinguishedName(commonName: string, organizations: readonly string[]): x509.JsonName {
  return [...organizations.map((organization) => ({ O: [organization] })), { CN: [commonName] }];
}

// 16 random bytes with the top bit clear: a positive INTEGER of at most 20 octets (RFC 5280 4.1.2.2).
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

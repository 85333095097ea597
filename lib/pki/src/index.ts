// Key pairs and certificates built on @peculiar/x509: no hand-written ASN.1, no cluster policy.
export {
  CertificateAuthority,
  noExpiry,
  selfSignedCertificate,
  type CertificateRequest,
  type CertificateUsage,
  type CreateCertificateAuthorityOptions,
  type IssuedCertificate,
} from './certificate-authority.js';
export { checkCertifiedKey, parseCertificate } from './check-certified-key.js';
export { decodePem } from './decode-pem.js';
export {
  KeyPair,
  ed25519PublicKeyFromRaw,
  ed25519RawFromPem,
  publicKeyFromPem,
  verifyEd25519,
  type KeyAlgorithm,
} from './key-pair.js';
export { PkiError, type PkiErrorCode } from './errors.js';
export { RevocationList, signRevocationList, type RevokedCertificate } from './revocation-list.js';

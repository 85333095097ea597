// How long the certificates a CA holder issues are valid (its policy), and when a holder of one
// renews it: at two thirds of its lifetime, so a missed renewal has a third left to retry.
import { X509Certificate } from 'node:crypto';

export interface CertificateLifetimes {
  /** Node and role certificates (etcd, kube-apiserver, operator, the CA holder's servers). */
  readonly leafMs: number;
  /** The owner certificate. */
  readonly ownerMs: number;
}

const dayMs = 24 * 3_600_000;

export const defaultLifetimes: CertificateLifetimes = { leafMs: 30 * dayMs, ownerMs: 365 * dayMs };

/** When a certificate valid for `lifetimeMs` from now expires. */
export function notAfterIn(lifetimeMs: number, now: number = Date.now()): Date {
  return new Date(now + lifetimeMs);
}

/** When `certificatePem` is due for renewal: at two thirds of its validity. */
export function renewalDue(certificatePem: string): number {
  const certificate = new X509Certificate(certificatePem);
  const from = Date.parse(certificate.validFrom);
  const to = Date.parse(certificate.validTo);
  return from + ((to - from) * 2) / 3;
}

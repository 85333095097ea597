// How long the certificates a CA holder issues are valid (its policy), and when a holder of one
// renews it: at two thirds of its lifetime, so a missed renewal has a third left to retry.
import { X509Certificate } from 'node:crypto';
import { renewalTime } from '@metropolis/pki/validity';

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

/** When `certificatePem` is due for renewal: at two thirds of its lifetime since its issue. */
export function renewalDue(certificatePem: string): number {
  const certificate = new X509Certificate(certificatePem);
  return renewalTime(new Date(certificate.validFrom), new Date(certificate.validTo));
}

// When the certificates this library issues are valid, and when a holder should renew one. No
// X.509 parsing here: an agent that only holds certificates loads this without the CA code.

/**
 * How far before its issue a certificate's notBefore lies: tolerates clocks a little behind
 * ours (fresh VMs, process nodes started in the same second).
 */
export const clockSkewMs = 5 * 60_000;

/**
 * When a certificate valid from `notBefore` to `notAfter` (as issued here: notBefore is
 * {@link clockSkewMs} before the issue) has used `fraction` of its lifetime since its issue.
 */
export function renewalTime(notBefore: Date, notAfter: Date, fraction = 2 / 3): number {
  const issued = Math.min(notBefore.getTime() + clockSkewMs, notAfter.getTime());
  return issued + (notAfter.getTime() - issued) * fraction;
}

// The check every listener of the agent makes after the TLS handshake: a client certificate the
// cluster revoked is refused, whatever its role, as etcd refuses it on its own ports.
import type { ServerUnaryCall } from '@grpc/grpc-js';
import { AgentError } from '../errors.js';

/** Whether the certificate with this serial (hex) is revoked. */
export type RevokedCheck = (serial: string) => boolean;

/** Throws AGENT_CERTIFICATE_REVOKED if the caller's certificate is revoked. */
export function refuseRevoked(
  call: Pick<ServerUnaryCall<unknown, unknown>, 'getAuthContext'>,
  revoked: RevokedCheck,
): void {
  const certificate = call.getAuthContext().sslPeerCertificate;
  if (certificate === undefined || !revoked(certificate.serialNumber)) return;
  const who = [certificate.subject.CN].flat().join(',');
  throw new AgentError(
    'AGENT_CERTIFICATE_REVOKED',
    `the certificate of ${who} (serial ${certificate.serialNumber}) is revoked`,
  );
}

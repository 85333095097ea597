// Fetches the certificate a TLS server presents, without trusting it: the first step of trust
// on first use, before metroctl knows which CA (if any) the node's certificate chains to.
import { connect } from 'node:tls';
import { isIP } from 'node:net';
import { errorMessage } from '@metropolis/errors';
import { MetroctlError } from '../errors.js';
import { certificateFacts, type CertificateFacts } from './certificate-facts.js';
import { grpcTarget, type Endpoint } from './endpoint.js';

/**
 * The certificate `endpoint` presents in a TLS handshake (ALPN h2, as gRPC offers). Verifies
 * nothing: the caller decides whether to trust it. METROCTL_UNREACHABLE if no handshake.
 */
export function fetchPeerCertificate(
  endpoint: Endpoint,
  timeoutMs: number,
): Promise<CertificateFacts> {
  return new Promise((resolve, reject) => {
    const unreachable = (reason: string, cause?: unknown): void => {
      reject(
        new MetroctlError(
          'METROCTL_UNREACHABLE',
          `cannot reach ${grpcTarget(endpoint)}: ${reason}`,
          { cause },
        ),
      );
    };
    const socket = connect({
      host: endpoint.host,
      port: endpoint.port,
      // Nothing is trusted yet: the certificate is what we came for.
      rejectUnauthorized: false,
      ALPNProtocols: ['h2'],
      // SNI must not carry an IP address (RFC 6066 3).
      ...(isIP(endpoint.host) === 0 ? { servername: endpoint.host } : {}),
      timeout: timeoutMs,
    });
    socket.once('secureConnect', () => {
      const peer = socket.getPeerX509Certificate();
      socket.destroy();
      if (peer === undefined) {
        unreachable('the server presented no certificate');
        return;
      }
      try {
        resolve(certificateFacts(peer.raw, `the certificate of ${grpcTarget(endpoint)}`));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    socket.once('timeout', () => {
      socket.destroy();
      unreachable(`no TLS handshake within ${String(timeoutMs)} ms`);
    });
    socket.once('error', (error) => {
      unreachable(errorMessage(error), error);
    });
  });
}

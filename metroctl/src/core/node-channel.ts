// gRPC channel credentials for talking to a node: pinned to one self-signed certificate (trust
// on first use, before a cluster exists) or mTLS with the cluster CA and the owner certificate.
import { credentials, type ChannelCredentials, type ChannelOptions } from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import type { OwnerCredentials } from './config-store.js';
import { identityMismatchMarker } from './grpc-error.js';
import { sha256Hex, type CertificateFacts } from './certificate-facts.js';

/**
 * Channel options for a node: TLS server name = node ID. Node addresses are IPs, which SNI
 * must not carry, and the node ID is the name metroctl actually verifies.
 */
export function nodeChannelOptions(nodeId: string): ChannelOptions {
  return { 'grpc.ssl_target_name_override': nodeId };
}

/**
 * Trusts exactly `pinned` and nothing else: the self-signed certificate is its own root, and
 * the identity check compares fingerprints, so a different certificate fails the handshake even
 * with the same name.
 */
export function pinnedCertificateCredentials(pinned: CertificateFacts): ChannelCredentials {
  return credentials.createSsl(Buffer.from(pinned.pem), null, null, {
    checkServerIdentity: (_host, peer) =>
      sha256Hex(peer.raw) === pinned.sha256
        ? undefined
        : new Error(
            `${identityMismatchMarker}: certificate sha256 ${sha256Hex(peer.raw)} is not the ` +
              `pinned ${pinned.sha256}`,
          ),
  });
}

/**
 * mTLS as the owner: the peer must chain to the cluster CA and be the node `nodeId` (its
 * certificate's CN or a DNS name), whatever address it was reached at.
 */
export function ownerChannelCredentials(
  owner: OwnerCredentials,
  nodeId: string,
): ChannelCredentials {
  return credentials.createSsl(
    Buffer.from(owner.caPem),
    Buffer.from(owner.keyPem),
    Buffer.from(owner.certificatePem),
    {
      checkServerIdentity: (_host, peer) =>
        certifiesNode(peer, nodeId)
          ? undefined
          : new Error(
              `${identityMismatchMarker}: the certificate is for "${String(peer.subject.CN)}", ` +
                `not node ${nodeId}`,
            ),
    },
  );
}

function certifiesNode(peer: PeerCertificate, nodeId: string): boolean {
  if (peer.subject.CN === nodeId) return true;
  // "DNS:a, IP Address:1.2.3.4"
  return (peer.subjectaltname ?? '').split(', ').includes(`DNS:${nodeId}`);
}

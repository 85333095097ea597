// Who called a CA holder's NodeCredentials service, from the client certificate TLS verified
// (chained to the cluster CA, unexpired): a node for its own key, or the owner.
import { X509Certificate } from 'node:crypto';
import type { ServerUnaryCall } from '@grpc/grpc-js';
import { certificateRoles, nodeIdOf } from '@metropolis/api';
import { AgentError } from '../errors.js';

/** The node ID of a caller with a node certificate for its own node key; refused otherwise. */
export function callingNode<Request, Response>(call: ServerUnaryCall<Request, Response>): string {
  const peer = call.getAuthContext().sslPeerCertificate;
  const organizations = peer?.subject.O === undefined ? [] : [peer.subject.O].flat();
  const nodeId = peer?.subject.CN === undefined ? undefined : [peer.subject.CN].flat()[0];
  if (nodeId === undefined || !organizations.includes(certificateRoles.node)) {
    throw new AgentError('AGENT_PERMISSION_DENIED', 'this is served to node certificates only');
  }
  if (nodeIdOfCertificate(peer?.raw) !== nodeId) {
    throw new AgentError(
      'AGENT_PERMISSION_DENIED',
      `the client certificate's key is not the key node ${nodeId} registered with`,
    );
  }
  return nodeId;
}

/** The caller's owner certificate (PEM); refused for any other certificate. */
export function callingOwner<Request, Response>(call: ServerUnaryCall<Request, Response>): string {
  const peer = call.getAuthContext().sslPeerCertificate;
  const organizations = peer?.subject.O === undefined ? [] : [peer.subject.O].flat();
  if (peer === undefined || !organizations.includes(certificateRoles.owner)) {
    throw new AgentError('AGENT_PERMISSION_DENIED', 'this is served to the owner certificate only');
  }
  return new X509Certificate(peer.raw).toString();
}

/** The node ID the certificate's key stands for; undefined if it is not an Ed25519 key. */
function nodeIdOfCertificate(der: Buffer | undefined): string | undefined {
  if (der === undefined) return undefined;
  const jwk = new X509Certificate(der).publicKey.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || jwk.x === undefined) return undefined;
  return nodeIdOf(Buffer.from(jwk.x, 'base64url'));
}

// Who called a CA holder's NodeCredentials service, from the client certificate TLS verified
// (chained to the cluster CA, unexpired): a node for its own key, or the owner; and whether
// that node may still hold credentials.
import { X509Certificate } from 'node:crypto';
import type { ServerUnaryCall } from '@grpc/grpc-js';
import { certificateRoles, nodeIdOf } from '@metropolis/api';
import { AgentError } from '../errors.js';
import type { ClusterApi, NodeRecord } from './cluster-api.js';

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

/**
 * The MonogonNode of a node that may hold credentials: present, approved, with an address and
 * not DECOMMISSIONED. PERMISSION_DENIED otherwise, saying which.
 */
export async function admittedNode(
  api: Pick<ClusterApi, 'approval'>,
  nodeId: string,
): Promise<NodeRecord> {
  const record = await api.approval(nodeId);
  if (record === undefined) {
    throw new AgentError('AGENT_PERMISSION_DENIED', `node ${nodeId} is not in the cluster`);
  }
  if (!record.approved || record.address === '' || record.state === 'DECOMMISSIONED') {
    throw new AgentError(
      'AGENT_PERMISSION_DENIED',
      `node ${nodeId} is ${record.state === 'DECOMMISSIONED' ? 'decommissioned' : 'not approved'}`,
    );
  }
  return record;
}

// The renewal half of NodeCredentials: a node renews its node certificate with the current one,
// the owner its owner certificate with the current one. A node whose MonogonNode is gone,
// unapproved or DECOMMISSIONED is refused: with bounded lifetimes, its certificates then expire.
import { X509Certificate, type webcrypto } from 'node:crypto';
import type { ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import type {
  RenewNodeCertificateRequest,
  RenewNodeCertificateResponse,
  RenewOwnerCertificateRequest,
  RenewOwnerCertificateResponse,
} from '@metropolis/api';
import type { Logger } from '@metropolis/logging';
import { publicKeyFromPem } from '@metropolis/pki';
import { AgentError } from '../errors.js';
import { toServiceError } from '../rpc/grpc-status.js';
import { refuseRevoked } from '../rpc/revoked-callers.js';
import { admittedNode, callingNode, callingOwner } from './caller-identity.js';
import type { ClusterApi } from './cluster-api.js';
import type { ClusterPki } from './cluster-pki.js';

export interface RenewalServiceDeps {
  readonly pki: ClusterPki;
  readonly api: Pick<ClusterApi, 'approval'>;
  readonly log: Logger;
}

/** The handlers of RenewNodeCertificate and RenewOwnerCertificate. */
export function renewalHandlers(deps: RenewalServiceDeps) {
  const renewNode = async (
    call: ServerUnaryCall<RenewNodeCertificateRequest, RenewNodeCertificateResponse>,
  ): Promise<RenewNodeCertificateResponse> => {
    refuseRevoked(call, (serial) => deps.pki.ledger.revoked(serial));
    const nodeId = callingNode(call);
    const record = await admittedNode(deps.api, nodeId);
    const nodeCertificate = await deps.pki.nodeCertificate(await keyOf(peerDer(call)), nodeId, [
      record.address,
    ]);
    deps.log.info('node certificate renewed', { node: nodeId });
    return { nodeCertificate };
  };
  const renewOwner = async (
    call: ServerUnaryCall<RenewOwnerCertificateRequest, RenewOwnerCertificateResponse>,
  ): Promise<RenewOwnerCertificateResponse> => {
    refuseRevoked(call, (serial) => deps.pki.ledger.revoked(serial));
    const ownerCertificate = await deps.pki.ownerCertificate(await keyOf(callingOwner(call)));
    deps.log.info('owner certificate renewed');
    return { ownerCertificate };
  };
  return {
    renewNodeCertificate: answer(renewNode, deps.log),
    renewOwnerCertificate: answer(renewOwner, deps.log),
  };
}

/** The public key a certificate (PEM or DER) certifies: the renewed one certifies the same. */
function keyOf(certificate: string | Buffer): Promise<webcrypto.CryptoKey> {
  const spki = new X509Certificate(certificate).publicKey.export({ type: 'spki', format: 'pem' });
  return publicKeyFromPem(String(spki));
}

function peerDer<Request, Response>(call: ServerUnaryCall<Request, Response>): Buffer {
  const raw = call.getAuthContext().sslPeerCertificate?.raw;
  if (raw === undefined) throw new AgentError('AGENT_PERMISSION_DENIED', 'no client certificate');
  return raw;
}

function answer<Request, Response>(
  handler: (call: ServerUnaryCall<Request, Response>) => Promise<Response>,
  log: Logger,
) {
  return (call: ServerUnaryCall<Request, Response>, callback: sendUnaryData<Response>): void => {
    handler(call).then(
      (response) => {
        callback(null, response);
      },
      (error: unknown) => {
        callback(toServiceError(error, log));
      },
    );
  };
}

// The unowned node's only endpoint: NodeBootstrap over TLS with a self-signed certificate for
// the node key (CN = node ID), which metroctl trusts on first use. As in Monogon, only an owner
// key the node parameters list may bootstrap (or any key, with --insecure-bootstrap), and the
// caller proves it holds the key by signing a message bound to this node.
import {
  NodeBootstrapService,
  bootstrapProof,
  type BootstrapRequest,
  type NodeBootstrapServer,
} from '@metropolis/api';
import type { Logger } from '@metropolis/logging';
import { selfSignedCertificate, verifyEd25519 } from '@metropolis/pki';
import { AgentError } from '../errors.js';
import type { NodeIdentity } from '../identity/node-identity.js';
import { serveGrpc, type RunningServer } from '../rpc/grpc-server.js';
import { toServiceError } from '../rpc/grpc-status.js';
import type { ClusterNode } from './cluster-node.js';

/** Who may bootstrap: the owner keys of the node parameters (raw Ed25519), or anyone. */
export type OwnerPolicy =
  { readonly kind: 'listed'; readonly keys: readonly Uint8Array[] } | { readonly kind: 'insecure' };

export async function startBootstrapServer(
  listen: string,
  identity: NodeIdentity,
  address: string,
  owners: OwnerPolicy,
  cluster: ClusterNode,
  log: Logger,
  onBootstrapped: () => void,
): Promise<RunningServer> {
  const certificate = await selfSignedCertificate(identity.keyPair, {
    commonName: identity.nodeId,
    usages: ['server'],
    hosts: [address, '127.0.0.1'],
  });
  const service: NodeBootstrapServer = {
    bootstrap: (call, callback) => {
      checkOwner(call.request, identity.nodeId, owners)
        .then(() => cluster.bootstrap(call.request.ownerPublicKey))
        .then(
          (response) => {
            callback(null, response);
            onBootstrapped();
          },
          (error: unknown) => {
            callback(toServiceError(error, log));
          },
        );
    },
  };
  return serveGrpc(
    listen,
    {
      clientCaPem: null,
      certificatePem: certificate,
      keyPem: await identity.keyPair.privateKeyPem(),
    },
    NodeBootstrapService,
    service,
  );
}

/** Refuses a key the policy does not allow, and a caller that does not hold the key. */
async function checkOwner(
  request: BootstrapRequest,
  nodeId: string,
  owners: OwnerPolicy,
): Promise<void> {
  const key = Buffer.from(request.ownerPublicKey);
  if (owners.kind === 'listed' && !owners.keys.some((listed) => key.equals(listed))) {
    throw new AgentError(
      'AGENT_PERMISSION_DENIED',
      'this owner key is not listed in the node parameters (bootstrap.ownerPublicKeys)',
    );
  }
  if (!(await verifyEd25519(key, bootstrapProof(nodeId), request.ownerSignature))) {
    throw new AgentError(
      'AGENT_PERMISSION_DENIED',
      'the owner signature does not prove possession of the owner key',
    );
  }
}

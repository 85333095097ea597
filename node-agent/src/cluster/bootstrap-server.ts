// The unowned node's only endpoint: NodeBootstrap over TLS with a self-signed certificate for
// the node key (CN = node ID), which metroctl trusts on first use.
import { NodeBootstrapService, type NodeBootstrapServer } from '@metropolis/api';
import type { Logger } from '@metropolis/logging';
import { selfSignedCertificate } from '@metropolis/pki';
import type { NodeIdentity } from '../identity/node-identity.js';
import { serveGrpc, type RunningServer } from '../rpc/grpc-server.js';
import { toServiceError } from '../rpc/grpc-status.js';
import type { ClusterNode } from './cluster-node.js';

export async function startBootstrapServer(
  listen: string,
  identity: NodeIdentity,
  address: string,
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
      cluster.bootstrap(call.request.ownerPublicKey).then(
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

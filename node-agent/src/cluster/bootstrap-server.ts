// The unowned node's only endpoint: NodeBootstrap over TLS with a self-signed certificate for
// the node key (CN = node ID), which metroctl trusts on first use.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { NodeBootstrapService, type NodeBootstrapServer } from '@metropolis/api';
import { selfSignedCertificate } from '@metropolis/pki';
import type { NodeIdentity } from '../identity/node-identity.js';
import type { RunningServer } from '../rpc/management-server.js';
import { toServiceError } from '../rpc/grpc-status.js';
import type { ClusterNode } from './cluster-node.js';

export async function startBootstrapServer(
  listen: string,
  identity: NodeIdentity,
  address: string,
  cluster: ClusterNode,
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
          callback(toServiceError(error));
        },
      );
    },
  };
  const server = new Server();
  server.addService(NodeBootstrapService, service);
  const credentials = ServerCredentials.createSsl(
    null,
    [
      {
        private_key: Buffer.from(await identity.keyPair.privateKeyPem()),
        cert_chain: Buffer.from(certificate),
      },
    ],
    false,
  );
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(listen, credentials, (error, bound) => {
      if (error) reject(error);
      else resolve(bound);
    });
  });
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => {
          resolve();
        });
      }),
  };
}

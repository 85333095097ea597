// The gRPC server of the management API: mTLS with the cluster CA; which client may call what
// is decided per call in management-service.ts.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { NodeManagementService, type NodeManagementServer } from '@metropolis/api';

export interface ManagementTls {
  readonly caPem: string;
  readonly certificatePem: string;
  readonly keyPem: string;
}

export interface RunningServer {
  readonly port: number;
  stop(): Promise<void>;
}

/** Serves `service` on `address` (host:port; port 0 picks a free one). */
export async function startManagementServer(
  address: string,
  tls: ManagementTls,
  service: NodeManagementServer,
): Promise<RunningServer> {
  const server = new Server();
  server.addService(NodeManagementService, service);
  const credentials = ServerCredentials.createSsl(
    Buffer.from(tls.caPem),
    [{ private_key: Buffer.from(tls.keyPem), cert_chain: Buffer.from(tls.certificatePem) }],
    true,
  );
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, credentials, (error, bound) => {
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
        // Streams such as Logs(follow) never end on their own.
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1000).unref();
      }),
  };
}

// One way to run a gRPC server in the agent: bind with the given TLS credentials, and stop
// gracefully, then forcefully after a second (streams such as Logs(follow) never end alone).
import {
  Server,
  ServerCredentials,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';

export interface RunningServer {
  readonly port: number;
  stop(): Promise<void>;
}

export interface ServerTls {
  /** The CA that client certificates must chain to; null serves without client certificates. */
  readonly clientCaPem: string | null;
  readonly certificatePem: string;
  readonly keyPem: string;
}

/** Serves one service on `address` (host:port; port 0 picks a free one). */
export async function serveGrpc(
  address: string,
  tls: ServerTls,
  definition: ServiceDefinition,
  implementation: UntypedServiceImplementation,
): Promise<RunningServer> {
  const server = new Server();
  server.addService(definition, implementation);
  const credentials = ServerCredentials.createSsl(
    tls.clientCaPem === null ? null : Buffer.from(tls.clientCaPem),
    [{ private_key: Buffer.from(tls.keyPem), cert_chain: Buffer.from(tls.certificatePem) }],
    tls.clientCaPem !== null,
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
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1000).unref();
      }),
  };
}

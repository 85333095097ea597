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

/**
 * Bounds every agent server holds to, also before a caller is authenticated (docs/security.md):
 * messages are small (the largest is a status), a connection opens few streams at once and
 * buffers little, idle and old connections are closed, and clients may not ping too often.
 */
export const grpcServerLimits = {
  'grpc.max_receive_message_length': 1 << 20,
  'grpc.max_send_message_length': 4 << 20,
  'grpc.max_concurrent_streams': 64,
  'grpc-node.max_session_memory': 16,
  'grpc.max_connection_idle_ms': 5 * 60_000,
  'grpc.max_connection_age_ms': 24 * 3_600_000,
  // Streams (WatchStatus, Logs with follow) still open at that age get this long to finish.
  'grpc.max_connection_age_grace_ms': 60_000,
  'grpc.keepalive_time_ms': 60_000,
  'grpc.keepalive_timeout_ms': 20_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 10_000,
  'grpc.http2.max_ping_strikes': 2,
} as const;

/** Serves one service on `address` (host:port; port 0 picks a free one). */
export async function serveGrpc(
  address: string,
  tls: ServerTls,
  definition: ServiceDefinition,
  implementation: UntypedServiceImplementation,
): Promise<RunningServer> {
  const server = new Server(grpcServerLimits);
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

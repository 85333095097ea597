// The gRPC server of the management API: mTLS with the cluster CA; which client may call what
// is decided per call in management-service.ts.
import { NodeManagementService, type NodeManagementServer } from '@metropolis/api';
import { serveGrpc, type RunningServer } from './grpc-server.js';
import type { ServingIdentity } from './serving-identity.js';

export type { RunningServer } from './grpc-server.js';

export interface ManagementTls {
  readonly caPem: string;
  readonly certificatePem: string;
  readonly keyPem: string;
}

/** Serves `service` on `address` (host:port; port 0 picks a free one). */
export function startManagementServer(
  address: string,
  tls: ManagementTls | ServingIdentity,
  service: NodeManagementServer,
): Promise<RunningServer> {
  return serveGrpc(
    address,
    'caPem' in tls
      ? { clientCaPem: tls.caPem, certificatePem: tls.certificatePem, keyPem: tls.keyPem }
      : tls,
    NodeManagementService,
    service,
  );
}

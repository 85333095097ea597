// Calls to node agents over gRPC with mTLS: the operator's client certificate, the cluster CA,
// and a check that the agent's certificate names the node we meant to reach.
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import {
  NodeManagementClient,
  nodeManagementPort,
  type NodeStatus,
  type RoleNotice,
} from '@metropolis/api';
import { NodeCallError, OperatorError } from '../errors.js';
import { agentReport, type AgentReport } from './agent-report.js';

/** PEM material of the operator's client certificate (role metropolis:operator). */
export interface NodeAgentTls {
  readonly caPem: string;
  readonly certificatePem: string;
  readonly keyPem: string;
}

/** One node agent. */
export interface NodeAgentConnection {
  /**
   * Opens WatchStatus and passes each message on. Resolves when `signal` aborts; rejects when
   * the stream fails, ends, reports another node ID, or stays silent for `idleTimeoutMs`.
   */
  watchStatus(
    signal: AbortSignal,
    idleTimeoutMs: number,
    onReport: (report: AgentReport) => void,
  ): Promise<void>;
  /**
   * Records roles on the node; returns the roles it accepted but does not run, with why.
   * @throws {NodeCallError} with the gRPC code and the agent's message.
   */
  applyRoles(request: RolesRequest, timeoutMs: number): Promise<RoleNotice[]>;
  close(): void;
}

export interface RolesRequest {
  readonly roles: readonly string[];
  /** etcd's --initial-cluster, when ConsensusMember is added. */
  readonly initialCluster?: string;
  /** Only ask whether the node would accept the roles. */
  readonly validateOnly?: boolean;
}

/** Opens connections to node agents; tests may substitute their own. */
export interface NodeAgentDialer {
  dial(nodeId: string, address: string): NodeAgentConnection;
}

/** Dials `address:7839` with mTLS. */
export class GrpcNodeAgentDialer implements NodeAgentDialer {
  readonly #tls: NodeAgentTls;

  constructor(tls: NodeAgentTls) {
    this.#tls = tls;
  }

  dial(nodeId: string, address: string): NodeAgentConnection {
    const host = address.includes(':') ? `[${address}]` : address;
    const client = new NodeManagementClient(
      `${host}:${String(nodeManagementPort)}`,
      credentials.createSsl(
        Buffer.from(this.#tls.caPem),
        Buffer.from(this.#tls.keyPem),
        Buffer.from(this.#tls.certificatePem),
        {
          // Runs after the usual hostname check: the certificate must also be this node's.
          checkServerIdentity: (_hostname, certificate) => {
            const commonName: unknown = certificate.subject.CN;
            return commonName === nodeId
              ? undefined
              : new OperatorError(
                  'OPERATOR_NODE_IDENTITY',
                  `the agent at ${address} presented a certificate for ${JSON.stringify(commonName)}, not ${nodeId}`,
                );
          },
        },
      ),
      {
        // A node that reboots is back within seconds; grpc-js would otherwise wait up to 2 min.
        'grpc.initial_reconnect_backoff_ms': 200,
        'grpc.max_reconnect_backoff_ms': 2_000,
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
      },
    );
    return new GrpcNodeAgentConnection(client, nodeId, address);
  }
}

class GrpcNodeAgentConnection implements NodeAgentConnection {
  readonly #client: NodeManagementClient;
  readonly #nodeId: string;
  readonly #address: string;

  constructor(client: NodeManagementClient, nodeId: string, address: string) {
    this.#client = client;
    this.#nodeId = nodeId;
    this.#address = address;
  }

  watchStatus(
    signal: AbortSignal,
    idleTimeoutMs: number,
    onReport: (report: AgentReport) => void,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      const call = this.#client.watchStatus({});
      let idle: NodeJS.Timeout | undefined;
      const finish = (error: Error | undefined): void => {
        clearTimeout(idle);
        signal.removeEventListener('abort', onAbort);
        call.removeAllListeners('data');
        call.cancel();
        if (error === undefined) resolve();
        else reject(error);
      };
      const arm = (): void => {
        clearTimeout(idle);
        idle = setTimeout(() => {
          finish(this.#streamError(`no status for ${String(idleTimeoutMs)} ms`));
        }, idleTimeoutMs);
      };
      const onAbort = (): void => {
        finish(undefined);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      call.on('data', (status: NodeStatus) => {
        if (status.nodeId !== this.#nodeId) {
          finish(
            new OperatorError(
              'OPERATOR_NODE_IDENTITY',
              `the agent at ${this.#address} reports node ID ${status.nodeId}, not ${this.#nodeId}`,
            ),
          );
          return;
        }
        arm();
        onReport(agentReport(status));
      });
      call.on('error', (error: ServiceError) => {
        finish(this.#streamError(error.details || error.message, error));
      });
      call.on('end', () => {
        finish(this.#streamError('the agent ended the stream'));
      });
      arm();
    });
  }

  applyRoles(request: RolesRequest, timeoutMs: number): Promise<RoleNotice[]> {
    return new Promise((resolve, reject) => {
      this.#client.applyRoles(
        {
          roles: [...request.roles],
          consensus:
            request.initialCluster === undefined
              ? undefined
              : { initialCluster: request.initialCluster },
          validateOnly: request.validateOnly ?? false,
        },
        new Metadata(),
        { deadline: Date.now() + timeoutMs },
        (error, response) => {
          if (error === null) resolve(response.notRunning);
          else
            reject(
              new NodeCallError(callReason(error.code), error.details || error.message, {
                cause: error,
              }),
            );
        },
      );
    });
  }

  close(): void {
    this.#client.close();
  }

  #streamError(reason: string, cause?: unknown): OperatorError {
    return new OperatorError(
      'OPERATOR_NODE_STREAM',
      `status stream of ${this.#nodeId} at ${this.#address}: ${reason}`,
      { cause },
    );
  }
}

function callReason(code: status): NodeCallError['reason'] {
  switch (code) {
    case status.UNIMPLEMENTED:
      return 'unimplemented';
    case status.UNAVAILABLE:
    case status.DEADLINE_EXCEEDED:
      return 'unavailable';
    default:
      return 'failed';
  }
}

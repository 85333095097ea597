// Calls to node agents over gRPC with mTLS: the operator's client certificate, the cluster CA,
// and a check that the agent's certificate names the node we meant to reach.
import { createSecureContext, type SecureContext } from 'node:tls';
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import {
  NodeManagementClient,
  nodeManagementPort,
  Slot,
  StageUpdateProgress_Phase,
  type CheckConsensusResponse,
  type NodeStatus,
  type RoleNotice,
  type StageUpdateProgress,
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
  /**
   * Whether the node's etcd member serves now, and a quorum read: how the operator learns the
   * health of a member other than its own (etcd's client API is on each node's loopback only).
   * @throws {NodeCallError}
   */
  checkConsensus(timeoutMs: number): Promise<ConsensusCheck>;
  close(): void;
}

/** A node's answer to CheckConsensus (management.proto says what each field means). */
export interface ConsensusCheck {
  readonly member: boolean;
  readonly serves: boolean;
  readonly learner: boolean;
  readonly quorate: boolean;
  readonly error: string;
}

/** The calls an OS update makes of one node agent (on the connection the observer owns). */
export interface NodeUpdateConnection {
  /**
   * Stages a bundle into the inactive slot; resolves when the agent reports DONE.
   * @throws {NodeCallError} the agent's refusal (bad signature, wrong hash) or a lost stream
   */
  stageUpdate(request: StageRequest, signal: AbortSignal): Promise<void>;
  /** @throws {NodeCallError} */
  setNextBoot(slot: 'A' | 'B', timeoutMs: number): Promise<void>;
  /**
   * Reboots the node if it still runs the boot that started at `expectedBootTimeMs`.
   * @throws {NodeCallError} FAILED_PRECONDITION (`failed`) when that boot already ended
   */
  reboot(expectedBootTimeMs: number, timeoutMs: number): Promise<void>;
  /** @throws {NodeCallError} */
  commitBoot(timeoutMs: number): Promise<void>;
}

/** One connection to a node agent: its status stream and every call made of it. */
export type AgentConnection = NodeAgentConnection & NodeUpdateConnection;

export interface RolesRequest {
  readonly roles: readonly string[];
  /** etcd's --initial-cluster, when ConsensusMember is added. */
  readonly initialCluster?: string;
  /** Only ask whether the node would accept the roles. */
  readonly validateOnly?: boolean;
}

export interface StageRequest {
  readonly url: string;
  readonly sha256: string;
  readonly expectedVersion: string;
  /** The OSUpdate allows a bundle below the node's committed security epoch. */
  readonly allowDowngrade: boolean;
}

/** Opens connections to node agents; tests may substitute their own. */
export interface NodeAgentDialer {
  dial(nodeId: string, address: string): AgentConnection;
}

/**
 * Dials `address:7839` with mTLS. All channels share one TLS SecureContext (the CA, certificate
 * and key parsed once): a context per channel cost about half a MiB per node.
 */
export class GrpcNodeAgentDialer implements NodeAgentDialer {
  readonly #secureContext: SecureContext;

  constructor(tls: NodeAgentTls) {
    this.#secureContext = createSecureContext({
      ca: tls.caPem,
      cert: tls.certificatePem,
      key: tls.keyPem,
    });
  }

  dial(nodeId: string, address: string): AgentConnection {
    const host = address.includes(':') ? `[${address}]` : address;
    const client = new NodeManagementClient(
      `${host}:${String(nodeManagementPort)}`,
      credentials.createFromSecureContext(this.#secureContext, {
        // Replaces the hostname check (grpc-js passes it to tls.connect as checkServerIdentity):
        // the CA-issued certificate must be this node's, whose CN is bound to its key.
        checkServerIdentity: (_hostname, certificate) => {
          const commonName: unknown = certificate.subject.CN;
          return commonName === nodeId
            ? undefined
            : new OperatorError(
                'OPERATOR_NODE_IDENTITY',
                `the agent at ${address} presented a certificate for ${JSON.stringify(commonName)}, not ${nodeId}`,
              );
        },
      }),
      {
        // A node that reboots is back within seconds and a rollout waits for exactly that: a
        // connection attempt every 125 ms at most (a refused connect on a LAN costs nothing)
        // notices it within an eighth of a second; grpc-js would otherwise wait up to 2 min.
        'grpc.initial_reconnect_backoff_ms': 50,
        'grpc.max_reconnect_backoff_ms': 125,
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
      },
    );
    return new GrpcNodeAgentConnection(client, nodeId, address);
  }
}

class GrpcNodeAgentConnection implements AgentConnection {
  readonly #client: NodeManagementClient;
  readonly #nodeId: string;
  readonly #address: string;
  /**
   * The last stream ended because the agent went away (it ended the stream as it stopped, or
   * could not be reached): the next one waits for the channel, which keeps dialing, instead of
   * failing at once, so it opens as soon as the agent serves again. A stream that waited in
   * vain (silent for the idle timeout) is followed by one that fails fast, so why the agent
   * cannot be reached (refused, a wrong certificate) still shows in every other attempt.
   */
  #waitForAgent = false;

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
      const call = this.#client.watchStatus({}, new Metadata({ waitForReady: this.#waitForAgent }));
      this.#waitForAgent = false;
      let idle: NodeJS.Timeout | undefined;
      let finished = false;
      const finish = (error: Error | undefined): void => {
        // The cancel below may report CANCELLED: not news, and not why the stream ended.
        if (finished) return;
        finished = true;
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
        if (finished) return;
        this.#waitForAgent = error.code === status.UNAVAILABLE;
        finish(this.#streamError(error.details || error.message, error));
      });
      call.on('end', () => {
        if (finished) return;
        this.#waitForAgent = true;
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
          else reject(callError(error));
        },
      );
    });
  }

  async checkConsensus(timeoutMs: number): Promise<ConsensusCheck> {
    const answer = await this.#unary<CheckConsensusResponse>((metadata, options, callback) => {
      this.#client.checkConsensus({}, metadata, options, callback);
    }, timeoutMs);
    const { member, serves, learner, quorate, error } = answer;
    return { member, serves, learner, quorate, error };
  }

  stageUpdate(request: StageRequest, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const call = this.#client.stageUpdate({
        url: request.url,
        sha256: request.sha256,
        expectedVersion: request.expectedVersion,
        allowDowngrade: request.allowDowngrade,
      });
      let done = false;
      const onAbort = (): void => {
        call.cancel();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      call.on('data', (progress: StageUpdateProgress) => {
        if (progress.phase === StageUpdateProgress_Phase.PHASE_DONE) done = true;
      });
      call.on('error', (error: ServiceError) => {
        signal.removeEventListener('abort', onAbort);
        reject(callError(error));
      });
      call.on('end', () => {
        signal.removeEventListener('abort', onAbort);
        if (done) resolve();
        else reject(new NodeCallError('unavailable', 'the stage stream ended before DONE'));
      });
    });
  }

  async setNextBoot(slot: 'A' | 'B', timeoutMs: number): Promise<void> {
    await this.#unary((metadata, options, callback) => {
      this.#client.setNextBoot(
        { slot: slot === 'A' ? Slot.SLOT_A : Slot.SLOT_B },
        metadata,
        options,
        callback,
      );
    }, timeoutMs);
  }

  async reboot(expectedBootTimeMs: number, timeoutMs: number): Promise<void> {
    await this.#unary((metadata, options, callback) => {
      this.#client.reboot(
        { expectedBootTimeUnixMs: expectedBootTimeMs },
        metadata,
        options,
        callback,
      );
    }, timeoutMs);
  }

  async commitBoot(timeoutMs: number): Promise<void> {
    await this.#unary((metadata, options, callback) => {
      this.#client.commitBoot({}, metadata, options, callback);
    }, timeoutMs);
  }

  close(): void {
    this.#client.close();
  }

  #unary<T>(
    start: (
      metadata: Metadata,
      options: { deadline: number },
      callback: (error: ServiceError | null, response: T) => void,
    ) => void,
    timeoutMs: number,
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      start(new Metadata(), { deadline: Date.now() + timeoutMs }, (error, response) => {
        if (error === null) resolve(response);
        else reject(callError(error));
      });
    });
  }

  #streamError(reason: string, cause?: unknown): OperatorError {
    return new OperatorError(
      'OPERATOR_NODE_STREAM',
      `status stream of ${this.#nodeId} at ${this.#address}: ${reason}`,
      { cause },
    );
  }
}

function callError(error: ServiceError): NodeCallError {
  return new NodeCallError(callReason(error.code), error.details || error.message, {
    cause: error,
  });
}

function callReason(code: status): NodeCallError['reason'] {
  switch (code) {
    case status.UNIMPLEMENTED:
      return 'unimplemented';
    // ABORTED: the agent is busy (a stage already runs); try again later.
    case status.UNAVAILABLE:
    case status.DEADLINE_EXCEEDED:
    case status.ABORTED:
      return 'unavailable';
    default:
      return 'failed';
  }
}

// NodeManagement handlers: authorize the caller by its certificate's role, call the agent's
// services, and translate results and errors at this edge only.
import type { ServerUnaryCall, ServerWritableStream, sendUnaryData } from '@grpc/grpc-js';
import {
  certificateRoles,
  type ApplyRolesRequest,
  type ApplyRolesResponse,
  type BootState,
  type CheckConsensusResponse,
  type LogEntry,
  type LogsRequest,
  type NodeManagementServer,
  type NodeStatus,
  type RebootRequest,
  type RebootResponse,
  type RoleNotice,
  type StageUpdateProgress,
  type StageUpdateRequest,
} from '@metropolis/api';
import type { LogRecord, LogRing, Logger } from '@metropolis/logging';
import { AgentError } from '../errors.js';
import type { SlotManager } from '../slots/slot-manager.js';
import { otherSlot } from '../slots/slot.js';
import type { StatusService } from '../status/status-service.js';
import type { EpochGuard } from '../update/epoch-guard.js';
import type { Stager } from '../update/stager.js';
import { toServiceError } from './grpc-status.js';
import { refuseRevoked, type RevokedCheck } from './revoked-callers.js';
import {
  bootStateToProto,
  progressToProto,
  slotFromProto,
  statusToProto,
} from './proto-mapping.js';

export interface ManagementServiceDeps {
  readonly slots: SlotManager;
  readonly stager: Stager;
  /** Anti-rollback: SetNextBoot, Rollback and CommitBoot ask it first. */
  readonly epochs: EpochGuard;
  readonly status: StatusService;
  readonly logs: LogRing;
  readonly log: Logger;
  readonly trialDeadlineMs: () => number | undefined;
  /** Reboots the node; the RPC answers first. */
  readonly reboot: (reason: string) => void;
  /** When this boot of the agent started (NodeStatus.boot_time_unix_ms). */
  readonly bootTimeMs: number;
  /** Records the roles the operator applies; returns roles accepted but not run. */
  readonly applyRoles: (
    roles: readonly string[],
    options: { initialCluster?: string | undefined; validateOnly: boolean },
  ) => Promise<RoleNotice[]>;
  /** Whether the local etcd member serves a quorum read now (CheckConsensus). */
  readonly checkConsensus: () => Promise<CheckConsensusResponse>;
  /** How often WatchStatus sends a status when nothing changed. @default 2000 */
  readonly heartbeatMs?: number;
  /**
   * Aborts when the agent stops: the streams that never end alone (WatchStatus, Logs with
   * follow) end then, so the server's graceful stop need not wait for its forced one.
   */
  readonly stopping?: AbortSignal;
  /** Whether the cluster revoked a client certificate (by serial); such callers are refused. */
  readonly revoked?: RevokedCheck;
}

const allowed: readonly string[] = [certificateRoles.operator, certificateRoles.owner];

/** Throws PERMISSION_DENIED unless the client certificate carries the operator or owner role. */
export function authorize(
  call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>,
): void {
  const subject = call.getAuthContext().sslPeerCertificate?.subject;
  const organizations = subject?.O === undefined ? [] : [subject.O].flat();
  if (organizations.some((role) => allowed.includes(role))) return;
  const who =
    subject?.CN === undefined ? 'an unauthenticated caller' : [subject.CN].flat().join(',');
  throw new AgentError(
    'AGENT_PERMISSION_DENIED',
    `${who} (${organizations.join(',') || 'no role'}) may not manage this node: only operator and owner certificates may`,
  );
}

export function managementService(deps: ManagementServiceDeps): NodeManagementServer {
  const { unary, stream } = rpcHandlers(deps.log, deps.revoked ?? (() => false));
  let rebooting = false;
  const bootState = async (): Promise<BootState> =>
    bootStateToProto(await deps.slots.state(), deps.trialDeadlineMs());

  return {
    getStatus: unary(async () => statusToProto(await deps.status.current())),
    watchStatus: (call: ServerWritableStream<unknown, NodeStatus>) => {
      stream(call, async () => {
        let sending = Promise.resolve();
        const send = (): void => {
          sending = sending
            .then(async () => {
              call.write(statusToProto(await deps.status.current()));
            })
            .catch((error: unknown) => {
              call.emit('error', toServiceError(error, deps.log));
            });
        };
        const closed = new AbortController();
        // The current status first, then one send per change.
        const watching = (async () => {
          for await (const _revision of deps.status.revision.watch(closed.signal)) send();
        })();
        const heartbeat = setInterval(send, deps.heartbeatMs ?? 2000);
        await callDone(call, deps.stopping);
        clearInterval(heartbeat);
        closed.abort();
        await watching;
        await sending;
        endIfStopping(call, deps.stopping);
      });
    },
    stageUpdate: (call: ServerWritableStream<StageUpdateRequest, StageUpdateProgress>) => {
      stream(call, async () => {
        const abort = new AbortController();
        call.once('cancelled', () => {
          abort.abort();
        });
        const request = call.request;
        deps.log.info('stage update requested', {
          url: request.url,
          expectedVersion: request.expectedVersion,
          allowDowngrade: request.allowDowngrade,
        });
        try {
          const manifest = await deps.stager.stage(
            {
              url: request.url,
              sha256: request.sha256,
              ...(request.expectedVersion ? { expectedVersion: request.expectedVersion } : {}),
              allowDowngrade: request.allowDowngrade,
            },
            (progress) => call.write(progressToProto(progress)),
            abort.signal,
          );
          deps.log.info('update staged', { version: manifest.version });
        } catch (error) {
          deps.log.warn('stage update refused', { error: String(error) });
          throw error;
        } finally {
          deps.status.changed();
        }
        call.end();
      });
    },
    setNextBoot: unary(async (request: { slot: Parameters<typeof slotFromProto>[0] }) => {
      const slot = slotFromProto(request.slot);
      await deps.epochs.checkBoot(slot);
      await deps.slots.setNextBoot(slot);
      deps.log.info('next boot set', { slot });
      deps.status.changed();
      return bootState();
    }),
    commitBoot: unary(async () => {
      // The epoch is recorded first: a power cut in between leaves it raised, never lowered.
      await deps.epochs.commit();
      const { changed } = await deps.slots.commit();
      deps.log.info(changed ? 'slot committed' : 'slot already committed', {
        slot: deps.slots.runningSlot,
      });
      deps.status.changed();
      return bootState();
    }),
    rollback: unary(async () => {
      await deps.epochs.checkBoot(otherSlot(deps.slots.runningSlot));
      const slot = await deps.slots.rollback();
      deps.log.info('rollback set for next boot', { slot });
      deps.status.changed();
      return bootState();
    }),
    reboot: unary((request: RebootRequest): Promise<RebootResponse> => {
      const expected = request.expectedBootTimeUnixMs;
      if (expected !== 0 && expected !== deps.bootTimeMs) {
        // A retry of a reboot that already happened: never reboot twice for one request.
        return Promise.reject(
          new AgentError(
            'AGENT_ALREADY_REBOOTED',
            `this boot started at ${new Date(deps.bootTimeMs).toISOString()}, not at ${new Date(expected).toISOString()}: that boot already ended`,
          ),
        );
      }
      if (rebooting) return Promise.resolve({ started: false });
      rebooting = true;
      // Answer first: the reboot starts right after this response is sent, and the server's
      // graceful stop lets it reach the caller.
      setImmediate(() => {
        deps.reboot('Reboot RPC');
      });
      return Promise.resolve({ started: true });
    }),
    logs: (call: ServerWritableStream<LogsRequest, LogEntry>) => {
      stream(call, async () => {
        const { follow, backlog } = call.request;
        for (const record of deps.logs.recent(backlog)) call.write(logEntry(record));
        if (!follow) {
          call.end();
          return;
        }
        const unsubscribe = deps.logs.subscribe((record) => call.write(logEntry(record)));
        await callDone(call, deps.stopping);
        unsubscribe();
        endIfStopping(call, deps.stopping);
      });
    },
    applyRoles: unary(async (request: ApplyRolesRequest): Promise<ApplyRolesResponse> => {
      const notRunning = await deps.applyRoles(request.roles, {
        initialCluster: request.consensus?.initialCluster,
        validateOnly: request.validateOnly,
      });
      if (!request.validateOnly) {
        deps.log.info('roles applied', { roles: request.roles });
        deps.status.changed();
      }
      return { notRunning };
    }),
    checkConsensus: unary(() => deps.checkConsensus()),
  };
}

function logEntry(record: LogRecord): LogEntry {
  return {
    timeUnixMs: record.timeMs,
    level: record.level,
    message: record.message,
    fieldsJson: JSON.stringify(record.fields),
  };
}

/** Resolves when the client is gone (cancelled, closed) or the agent stops. */
async function callDone(
  call: ServerWritableStream<unknown, unknown>,
  stopping?: AbortSignal,
): Promise<void> {
  const gone = new AbortController();
  await new Promise<void>((resolve) => {
    call.once('cancelled', resolve);
    call.once('close', resolve);
    if (stopping?.aborted === true) resolve();
    stopping?.addEventListener(
      'abort',
      () => {
        resolve();
      },
      { once: true, signal: gone.signal },
    );
  });
  // A stream ended by its client leaves no listener on the boot-long signal.
  gone.abort();
}

/** Ends a stream still open because the agent stops (OK status: the client dials again). */
function endIfStopping(call: ServerWritableStream<unknown, unknown>, stopping?: AbortSignal): void {
  if (stopping?.aborted === true && !call.cancelled) call.end();
}

/** Handler wrappers that authorize each call and turn errors into gRPC statuses. */
function rpcHandlers(log: Logger, revoked: RevokedCheck) {
  const unary =
    <Req, Res>(handler: (request: Req) => Promise<Res>) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
      Promise.resolve()
        .then(() => {
          refuseRevoked(call, revoked);
          authorize(call);
          return handler(call.request);
        })
        .then(
          (response) => {
            callback(null, response);
          },
          (error: unknown) => {
            callback(toServiceError(error, log));
          },
        );
    };
  const stream = <Req, Res>(
    call: ServerWritableStream<Req, Res>,
    body: () => Promise<void>,
  ): void => {
    Promise.resolve()
      .then(() => {
        refuseRevoked(call, revoked);
        authorize(call);
        return body();
      })
      .catch((error: unknown) => {
        call.emit('error', toServiceError(error, log));
      });
  };
  return { unary, stream };
}

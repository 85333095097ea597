// The heart of the MonogonNode reconciler, as pure functions: from the object, the agent's last
// report and the clock to the status the node should have and the roles to apply. No I/O.
import {
  nodeManagementPort,
  sortRoles,
  type MonogonNodeCondition,
  type MonogonNodeHealth,
  type MonogonNodeRole,
  type MonogonNodeState,
  type MonogonNodeStatus,
} from '@metropolis/api';
import { bundleVersionPattern } from '@metropolis/bundle';
import type { AgentReport } from '../node-client/agent-report.js';
import type { NodeResource } from './monogon-node-resource.js';
import { rfc3339 } from '../kube/rfc3339.js';
import { findCondition, setCondition, type ConditionUpdate } from '../kube/set-condition.js';

/** The condition types the operator owns on a MonogonNode. */
export const conditionTypes = {
  /** Whether the node agent's status stream delivers within the heartbeat timeout. */
  heartbeat: 'Heartbeat',
  /** Whether the node is UP and its agent reports healthy. */
  ready: 'Ready',
  /** Whether the node runs exactly spec.roles. */
  rolesApplied: 'RolesApplied',
} as const;

/** The latest report of a node agent and when it arrived (operator clock). */
export interface Observation {
  readonly report: AgentReport;
  readonly receivedAtMs: number;
}

/** The outcome of the last ApplyRoles call for a node. */
export interface RolesAttempt {
  /** What was asked, sorted. */
  readonly roles: readonly MonogonNodeRole[];
  /** The agent boot it was asked of ({@link AgentReport.bootTimeMs}). */
  readonly bootTimeMs: number;
  /**
   * applied: the agent accepted; notBuilt: UNIMPLEMENTED; refused: the change is not safe or
   * not possible now (quorum, the node's own refusal); failed: any other error.
   */
  readonly outcome: 'applied' | 'notBuilt' | 'refused' | 'failed';
  /** The agent's or the check's message (empty when applied). */
  readonly message: string;
  /** Roles the agent accepted but does not run, with why (when applied). */
  readonly notRunning?: readonly { readonly role: string; readonly message: string }[];
  readonly atMs: number;
}

export interface NodeStatusInput {
  readonly node: NodeResource;
  readonly observation: Observation | undefined;
  /** When this operator began watching the node: the start of the grace period. */
  readonly trackingSinceMs: number;
  readonly rolesAttempt: RolesAttempt | undefined;
  readonly nowMs: number;
  readonly heartbeatTimeoutMs: number;
  /** How long to wait before repeating a failed (not UNIMPLEMENTED) ApplyRoles. */
  readonly rolesRetryMs: number;
}

/**
 * How alive the node looks. fresh: a report within the timeout. grace: no report yet, but this
 * operator has not watched for a full timeout (after a start or a leader change), so nothing
 * is known. timeout: neither. noAddress: there is nothing to watch.
 */
export type Liveness = 'fresh' | 'grace' | 'timeout' | 'noAddress';

export function liveness(input: NodeStatusInput): Liveness {
  if (input.node.status.address === undefined || input.node.status.address === '') {
    return 'noAddress';
  }
  const { observation, nowMs, heartbeatTimeoutMs } = input;
  if (observation !== undefined) {
    return nowMs - observation.receivedAtMs <= heartbeatTimeoutMs ? 'fresh' : 'timeout';
  }
  return nowMs - input.trackingSinceMs < heartbeatTimeoutMs ? 'grace' : 'timeout';
}

/**
 * The lifecycle state. Approval (spec.approved, or an earlier STANDBY/UP) admits a node; an
 * admitted node that talks to us over mTLS holds its cluster certificate and is UP. UP is
 * membership, not liveness: a silent UP node stays UP and its health says the rest.
 */
export function nodeState(node: NodeResource, alive: Liveness): MonogonNodeState {
  const current = node.status.state;
  if (current === 'DECOMMISSIONED') return current;
  if (current === 'UP') return 'UP';
  const approved = node.spec.approved === true || current === 'STANDBY';
  if (!approved) return 'NEW';
  return alive === 'fresh' ? 'UP' : 'STANDBY';
}

/**
 * Whether the node's etcd member needs promoting: ConsensusMember is wanted and recorded on the
 * node, but the node does not report it running (its member is still a learner).
 */
export function needsPromotion(input: NodeStatusInput): boolean {
  const report = input.observation?.report;
  if (report === undefined || liveness(input) !== 'fresh') return false;
  const member = 'ConsensusMember';
  return (
    (input.node.spec.roles ?? []).includes(member) &&
    report.appliedRoles.includes(member) &&
    !report.roles.includes(member)
  );
}

/** The roles to apply now, or undefined: not reachable, not UP, already recorded, or asked. */
export function rolesToApply(input: NodeStatusInput): MonogonNodeRole[] | undefined {
  const alive = liveness(input);
  const { observation, rolesAttempt } = input;
  if (alive !== 'fresh' || observation === undefined) return undefined;
  if (nodeState(input.node, alive) !== 'UP') return undefined;
  const wanted = sortRoles(input.node.spec.roles ?? []);
  // Compared with what the agent recorded, not what runs: starting a role takes a while.
  if (sameRoles(wanted, observation.report.appliedRoles)) return undefined;
  const retriable = rolesAttempt?.outcome === 'failed' || rolesAttempt?.outcome === 'refused';
  if (
    rolesAttempt !== undefined &&
    sameRoles(rolesAttempt.roles, wanted) &&
    rolesAttempt.bootTimeMs === observation.report.bootTimeMs &&
    (!retriable || input.nowMs - rolesAttempt.atMs < input.rolesRetryMs)
  ) {
    // Asked this very agent boot already: UNIMPLEMENTED will not change without a reboot.
    return undefined;
  }
  return wanted;
}

export interface DesiredStatus {
  readonly status: MonogonNodeStatus;
  /** When to look again even if nothing happens (a timeout, a retry); undefined: no need. */
  readonly nextCheckAtMs: number | undefined;
}

/**
 * The status the node should have. Fields other writers own (address, tpm) and conditions of
 * other types are kept as they are.
 */
export function desiredNodeStatus(input: NodeStatusInput): DesiredStatus {
  const { node, observation, nowMs, heartbeatTimeoutMs } = input;
  const current = node.status;
  const alive = liveness(input);
  const state = nodeState(node, alive);
  const health = nodeHealth(state, alive, observation, current.health);
  const report = observation?.report;
  const lastHeartbeat =
    observation === undefined ? current.lastHeartbeat : rfc3339(observation.receivedAtMs);
  const now = rfc3339(nowMs);
  const generation = node.metadata.generation;
  let conditions = current.conditions ?? [];
  for (const update of [
    heartbeatCondition(input, alive, lastHeartbeat),
    readyCondition(state, health, report, current.conditions, heartbeatTimeoutMs),
    rolesCondition(input, state, report),
  ]) {
    if (update !== undefined) conditions = setCondition(conditions, update, now, generation);
  }
  const bootedSlot = report === undefined ? current.bootedSlot : report.bootedSlot;
  const status: MonogonNodeStatus = {
    ...current,
    state,
    health,
    ...(report === undefined
      ? {}
      : {
          // A version that is not a release version (control characters, a terminal escape) is
          // not written: metroctl and kubectl print it. The last valid one stays.
          ...(bundleVersionPattern.test(report.version) ? { version: report.version } : {}),
          bootOrder: [...report.bootOrder],
          runningRoles: [...report.roles],
          healthChecks: report.healthChecks.map((check) => ({
            name: check.name,
            ok: check.ok,
            since: rfc3339(check.sinceMs),
            message: truncate(check.message, healthCheckMessageLimit),
          })),
        }),
    conditions,
    observedGeneration: generation,
  };
  if (bootedSlot === undefined) delete status.bootedSlot;
  else status.bootedSlot = bootedSlot;
  // The ROLES printer column: a CRD column cannot join a list (docs/api.md).
  const roles = sortRoles(node.spec.roles ?? []);
  if (roles.length === 0) delete status.rolesSummary;
  else status.rolesSummary = roles.join(',');
  if (lastHeartbeat !== undefined) status.lastHeartbeat = lastHeartbeat;
  return { status, nextCheckAtMs: nextCheckAt(input, alive) };
}

/** The CRD's maxLength of a health check's message; agent messages in conditions too. */
const healthCheckMessageLimit = 1024;

function truncate(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

function nodeHealth(
  state: MonogonNodeState,
  alive: Liveness,
  observation: Observation | undefined,
  current: MonogonNodeHealth | undefined,
): MonogonNodeHealth {
  if (state !== 'UP') return 'UNKNOWN';
  switch (alive) {
    case 'fresh':
      return observation?.report.health ?? 'UNKNOWN';
    case 'grace':
      // Nothing new is known yet: keep what the previous leader wrote rather than flap.
      return current ?? 'UNKNOWN';
    case 'timeout':
      return 'HEARTBEAT_TIMEOUT';
    case 'noAddress':
      return 'UNKNOWN';
  }
}

function heartbeatCondition(
  input: NodeStatusInput,
  alive: Liveness,
  lastHeartbeat: string | undefined,
): ConditionUpdate | undefined {
  const type = conditionTypes.heartbeat;
  const agent = `${input.node.status.address ?? ''}:${String(nodeManagementPort)}`;
  switch (alive) {
    case 'noAddress':
      return {
        type,
        status: 'Unknown',
        reason: 'NoAddress',
        message: 'status.address is empty: there is no node agent to watch.',
      };
    case 'fresh':
      return {
        type,
        status: 'True',
        reason: 'StatusReceived',
        message: `The node agent at ${agent} streams its status.`,
      };
    case 'grace':
      return findCondition(input.node.status.conditions, type) === undefined
        ? {
            type,
            status: 'Unknown',
            reason: 'AwaitingStatus',
            message: `Waiting for the first status from the node agent at ${agent}.`,
          }
        : undefined;
    case 'timeout':
      return {
        type,
        status: 'False',
        reason: 'HeartbeatTimeout',
        message:
          lastHeartbeat === undefined
            ? `No status from the node agent at ${agent} since the operator began watching ` +
              `it at ${rfc3339(input.trackingSinceMs)} (timeout ${seconds(input.heartbeatTimeoutMs)}).`
            : `No status from the node agent at ${agent} since ${lastHeartbeat} ` +
              `(timeout ${seconds(input.heartbeatTimeoutMs)}).`,
      };
  }
}

function readyCondition(
  state: MonogonNodeState,
  health: MonogonNodeHealth,
  report: AgentReport | undefined,
  previous: readonly MonogonNodeCondition[] | undefined,
  heartbeatTimeoutMs: number,
): ConditionUpdate {
  const type = conditionTypes.ready;
  switch (state) {
    case 'DECOMMISSIONED':
      return {
        type,
        status: 'False',
        reason: 'Decommissioned',
        message: 'The node is decommissioned.',
      };
    case 'NEW':
      return {
        type,
        status: 'False',
        reason: 'NotApproved',
        message: 'The node is not approved: set spec.approved to admit it.',
      };
    case 'STANDBY':
      return {
        type,
        status: 'False',
        reason: 'AwaitingAgent',
        message: 'Approved; waiting for the node agent to report with its cluster certificate.',
      };
    case 'UP':
      break;
  }
  switch (health) {
    case 'HEALTHY':
      return {
        type,
        status: 'True',
        reason: 'NodeHealthy',
        message: 'The node agent reports healthy.',
      };
    case 'UNHEALTHY': {
      const kept = findCondition(previous, type);
      const message =
        report?.healthMessage ??
        (kept?.reason === 'NodeUnhealthy' ? kept.message : 'The node agent reports unhealthy.');
      return {
        type,
        status: 'False',
        reason: 'NodeUnhealthy',
        message:
          message === ''
            ? 'The node agent reports unhealthy.'
            : truncate(message, healthCheckMessageLimit),
      };
    }
    case 'HEARTBEAT_TIMEOUT':
      return {
        type,
        status: 'False',
        reason: 'HeartbeatTimeout',
        message: `No heartbeat within ${seconds(heartbeatTimeoutMs)}: see the Heartbeat condition.`,
      };
    case 'UNKNOWN':
      return {
        type,
        status: 'Unknown',
        reason: 'AwaitingStatus',
        message: 'The node agent has not reported yet.',
      };
  }
}

function rolesCondition(
  input: NodeStatusInput,
  state: MonogonNodeState,
  report: AgentReport | undefined,
): ConditionUpdate | undefined {
  const type = conditionTypes.rolesApplied;
  const wanted = sortRoles(input.node.spec.roles ?? []);
  const running = report?.roles ?? input.node.status.runningRoles;
  if (running === undefined) {
    return findCondition(input.node.status.conditions, type) === undefined
      ? {
          type,
          status: 'Unknown',
          reason: 'AwaitingStatus',
          message: 'The node agent has not reported which roles run.',
        }
      : undefined;
  }
  if (sameRoles(wanted, sortRoles(running))) {
    return {
      type,
      status: 'True',
      reason: 'RolesRunning',
      message:
        wanted.length === 0 ? 'No roles requested, none running.' : `Running ${list(wanted)}.`,
    };
  }
  if (state !== 'UP') {
    return {
      type,
      status: 'False',
      reason: 'NotUp',
      message: `Roles are applied once the node is UP (it is ${state}).`,
    };
  }
  const attempt = input.rolesAttempt;
  if (attempt === undefined || !sameRoles(attempt.roles, wanted)) {
    // Nothing tried yet by this operator, but the stored condition was computed for this very
    // spec (a previous leader's attempt): keep it rather than flap to Pending and back.
    const stored = findCondition(input.node.status.conditions, type);
    if (
      stored?.status === 'False' &&
      stored.observedGeneration === input.node.metadata.generation
    ) {
      return undefined;
    }
  }
  if (attempt !== undefined && sameRoles(attempt.roles, wanted)) {
    switch (attempt.outcome) {
      case 'notBuilt':
        return { type, status: 'False', reason: 'NotBuilt', message: attempt.message };
      case 'failed':
        return { type, status: 'False', reason: 'ApplyFailed', message: attempt.message };
      case 'refused':
        return { type, status: 'False', reason: 'Refused', message: attempt.message };
      case 'applied': {
        const notRunning = attempt.notRunning ?? [];
        const waiting = wanted.filter(
          (role) => !running.includes(role) && !notRunning.some((notice) => notice.role === role),
        );
        if (waiting.length === 0 && notRunning.length > 0) {
          return {
            type,
            status: 'False',
            reason: 'NotBuilt',
            message: notRunning.map((notice) => notice.message).join('; '),
          };
        }
        return {
          type,
          status: 'False',
          reason: 'Applying',
          message: `The node agent accepted ${list(wanted)}; waiting for ${list(waiting)} to serve.`,
        };
      }
    }
  }
  return {
    type,
    status: 'False',
    reason: 'Pending',
    message: `spec.roles (${list(wanted)}) differ from runningRoles (${list(running)}); waiting for the node agent to apply them.`,
  };
}

function nextCheckAt(input: NodeStatusInput, alive: Liveness): number | undefined {
  const times: number[] = [];
  if (alive === 'fresh' && input.observation !== undefined) {
    times.push(input.observation.receivedAtMs + input.heartbeatTimeoutMs + 1);
  }
  if (alive === 'grace') times.push(input.trackingSinceMs + input.heartbeatTimeoutMs);
  const attempt = input.rolesAttempt;
  if (attempt?.outcome === 'failed' || attempt?.outcome === 'refused') {
    times.push(attempt.atMs + input.rolesRetryMs);
  }
  const future = times.filter((time) => time > input.nowMs);
  return future.length === 0 ? undefined : Math.min(...future);
}

export function sameRoles(a: readonly MonogonNodeRole[], b: readonly MonogonNodeRole[]): boolean {
  const x = sortRoles(a);
  const y = sortRoles(b);
  return x.length === y.length && x.every((role, index) => role === y[index]);
}

function seconds(ms: number): string {
  return `${String(ms / 1000)}s`;
}

function list(roles: readonly string[]): string {
  return roles.length === 0 ? 'none' : roles.join(', ');
}

// The planner's input and output: one snapshot of an OSUpdate and its nodes in, the new status
// and the effects to perform out.
import type {
  MonogonNodeHealth,
  MonogonNodeRole,
  MonogonNodeState,
  OSUpdateSlot,
  OSUpdateStatus,
} from '@metropolis/api';
import type { OSUpdateResource, OSUpdateRollout } from '../os-update-resource.js';
import type { EtcdView } from '../../consensus/etcd-view.js';
import type { AgentView } from '../agent-view.js';

/** A selected MonogonNode and what its agent says now. */
export interface RolloutNodeView {
  readonly name: string;
  readonly specRoles: readonly MonogonNodeRole[];
  readonly state: MonogonNodeState;
  readonly health: MonogonNodeHealth;
  /** Undefined when the agent cannot be reached. */
  readonly agent: AgentView | undefined;
}

/** How a StageUpdate call that finished since the last snapshot ended. */
export interface StageResult {
  readonly node: string;
  readonly ok: boolean;
  /** Why it failed; empty when ok. */
  readonly message: string;
  /**
   * The agent could not be asked or was busy (UNAVAILABLE, a stage already running): try again.
   * Without it, a failure is the agent refusing the bundle, and fails the node.
   */
  readonly transient?: boolean;
}

/** One snapshot. */
export interface RolloutInput {
  /** The parts of the OSUpdate (as parseOSUpdate returns it) the planner reads. */
  readonly update: {
    readonly metadata: Pick<OSUpdateResource['metadata'], 'name' | 'generation'>;
    readonly spec: Pick<OSUpdateResource['spec'], 'version' | 'paused'>;
    readonly rollout: OSUpdateRollout;
    readonly status: OSUpdateStatus;
  };
  readonly nowMs: number;
  /** The selected nodes. NEW and DECOMMISSIONED ones are not part of the cluster and are skipped. */
  readonly nodes: readonly RolloutNodeView[];
  /** etcd's members, read just now; undefined when etcd could not be asked. */
  readonly etcd: EtcdView | undefined;
  /** Nodes this update must not start on, each with the OSUpdate claiming it (see nodeClaims). */
  readonly claims: ReadonlyMap<string, string>;
  /** Nodes with a StageUpdate call of this process in flight. */
  readonly staging: ReadonlySet<string>;
  /** Stage calls finished since the last status write that succeeded. */
  readonly stageResults: readonly StageResult[];
  /**
   * Reboot calls this process made that the agent accepted or that are in flight: node to the
   * expectedBootTimeMs they carried. A recorded reboot is not asked again while listed here.
   */
  readonly rebootsRequested?: ReadonlyMap<string, number>;
  /** The node the leading operator runs on: last in its tier. */
  readonly operatorNode?: string | undefined;
}

export type RolloutAction =
  /** Start StageUpdate with spec.bundle and spec.version in the background. */
  | { readonly kind: 'stage'; readonly node: string }
  /** SetNextBoot(slot), then Reboot guarded by expectedBootTimeMs. */
  | {
      readonly kind: 'reboot';
      readonly node: string;
      readonly slot: OSUpdateSlot;
      readonly expectedBootTimeMs: number;
    }
  /** CommitBoot: idempotent. */
  | { readonly kind: 'commit'; readonly node: string }
  | {
      readonly kind: 'event';
      readonly node?: string;
      readonly type: 'Normal' | 'Warning';
      readonly reason: string;
      readonly message: string;
    };

export interface RolloutPlan {
  /** The complete new status. */
  readonly status: OSUpdateStatus;
  /** To perform only after `status` is written (conditioned on the resourceVersion read). */
  readonly actions: RolloutAction[];
  /** When to plan again even if nothing is reported (a timeout); undefined: no need. */
  readonly nextCheckAtMs: number | undefined;
}

/** The condition types of an OSUpdate. */
export const rolloutConditionTypes = {
  progressing: 'Progressing',
  complete: 'Complete',
  failed: 'Failed',
  /** Another OSUpdate owns a selected node. */
  blocked: 'Blocked',
} as const;

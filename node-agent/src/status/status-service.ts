// What the node reports about itself: identity, version, boot state and health. Watchers get
// the status on every change and at least once per heartbeat interval.
import { Value } from '@metropolis/event';
import type { HealthCheckReport, NodeHealth } from '../health/health-book.js';
import type { BootStateView, SlotManager } from '../slots/slot-manager.js';

export interface NodeStatusView {
  readonly nodeId: string;
  readonly version: string;
  readonly boot: BootStateView;
  /** Deadline of an uncommitted trial boot (ms since epoch); undefined when not in trial. */
  readonly trialDeadlineMs: number | undefined;
  readonly health: NodeHealth;
  /** Every health check; health is their conjunction. */
  readonly healthChecks: readonly HealthCheckReport[];
  readonly roles: readonly string[];
  /** Roles recorded for this node, running or not. */
  readonly appliedRoles: readonly string[];
  readonly bootTimeMs: number;
  readonly timestampMs: number;
  readonly address: string;
}

export interface StatusServiceDeps {
  readonly nodeId: string;
  readonly version: string;
  readonly slots: SlotManager;
  readonly health: () => NodeHealth;
  readonly healthChecks: () => readonly HealthCheckReport[];
  readonly trialDeadlineMs: () => number | undefined;
  /** Roles whose services run on this node right now. */
  readonly roles: () => readonly string[];
  readonly appliedRoles: () => readonly string[];
  readonly bootTimeMs: number;
  readonly address: string;
  readonly now?: () => number;
}

export class StatusService {
  #deps: StatusServiceDeps;
  /**
   * Counts changes: the status itself is read on demand from many sources, so watchers watch
   * this number and read {@link current} when it moves.
   */
  readonly revision = new Value(0);

  constructor(deps: StatusServiceDeps) {
    this.#deps = deps;
  }

  async current(): Promise<NodeStatusView> {
    const deps = this.#deps;
    const boot = await deps.slots.state();
    return {
      nodeId: deps.nodeId,
      version: deps.version,
      boot,
      trialDeadlineMs: boot.trial ? deps.trialDeadlineMs() : undefined,
      health: deps.health(),
      healthChecks: [...deps.healthChecks()],
      roles: [...deps.roles()],
      appliedRoles: [...deps.appliedRoles()],
      bootTimeMs: deps.bootTimeMs,
      timestampMs: (deps.now ?? Date.now)(),
      address: deps.address,
    };
  }

  /** Tells watchers that something they see has changed. */
  changed(): void {
    this.revision.set(this.revision.get() + 1);
  }
}

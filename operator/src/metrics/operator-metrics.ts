// The operator's Prometheus metrics (prom-client), in one registry owned by the composition
// root: nothing registers into prom-client's global registry, so two operators in one test
// process keep separate counts.
import type { MonogonNodeHealth, MonogonNodeState } from '@metropolis/api';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The state and health of one node as last written, for the nodes gauge. */
export interface NodeSample {
  readonly state: MonogonNodeState | undefined;
  readonly health: MonogonNodeHealth | undefined;
}

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly leader: Gauge;
  /** Computed at scrape time from the running reconciler (see observeNodes). */
  readonly nodes: Gauge<'state' | 'health'>;
  readonly reconciles: Counter<'kind' | 'result'>;
  readonly reconcileErrors: Counter<'kind' | 'code'>;
  readonly streamReconnects: Counter<'node'>;
  readonly streamsOpen: Gauge;
  readonly statusWrites: Counter<'trigger' | 'result'>;
  readonly leaseWrites: Counter<'result'>;
  readonly applyRolesCalls: Counter<'result'>;
  readonly events: Counter<'reason' | 'result'>;
  readonly updateNodes: Gauge<'update' | 'phase'>;
  readonly updateActions: Counter<'action' | 'result'>;
  readonly updateStepSeconds: Histogram<'step'>;
  #nodes: () => readonly NodeSample[] = () => [];

  constructor(options: { readonly processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const nodes = (): readonly NodeSample[] => this.#nodes();
    this.leader = new Gauge({
      name: 'metropolis_operator_leader',
      help: 'Whether this instance holds the leader lease (1) or not (0).',
      registers,
    });
    this.leader.set(0);
    this.nodes = new Gauge({
      name: 'metropolis_operator_nodes',
      help: 'MonogonNodes this leader reconciles, by status.state and status.health.',
      labelNames: ['state', 'health'],
      registers,
      collect() {
        this.reset();
        for (const node of nodes()) {
          this.inc({ state: node.state ?? 'UNSET', health: node.health ?? 'UNSET' });
        }
      },
    });
    this.reconciles = new Counter({
      name: 'metropolis_operator_reconciles_total',
      help: 'Reconcile passes, by resource kind and result (success, conflict, error).',
      labelNames: ['kind', 'result'],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: 'metropolis_operator_reconcile_errors_total',
      help: 'Failed reconcile passes, by resource kind and error code.',
      labelNames: ['kind', 'code'],
      registers,
    });
    this.streamReconnects = new Counter({
      name: 'metropolis_operator_node_stream_reconnects_total',
      help: 'WatchStatus streams to node agents that failed, ended or went silent and are reopened.',
      labelNames: ['node'],
      registers,
    });
    this.streamsOpen = new Gauge({
      name: 'metropolis_operator_node_streams',
      help: 'Nodes this leader keeps a WatchStatus stream open to (or is reconnecting to).',
      registers,
    });
    this.statusWrites = new Counter({
      name: 'metropolis_operator_status_writes_total',
      help: 'MonogonNode status writes, by trigger (change, refresh) and result (written, conflict, notFound, error).',
      labelNames: ['trigger', 'result'],
      registers,
    });
    this.leaseWrites = new Counter({
      name: 'metropolis_operator_node_lease_writes_total',
      help: 'Node heartbeat Lease renewals, by result (written, error).',
      labelNames: ['result'],
      registers,
    });
    this.applyRolesCalls = new Counter({
      name: 'metropolis_operator_apply_roles_calls_total',
      help: 'ApplyRoles calls to node agents, by result (applied, notBuilt, refused, failed).',
      labelNames: ['result'],
      registers,
    });
    this.events = new Counter({
      name: 'metropolis_operator_events_total',
      help: 'Kubernetes Events recorded, by reason and result (recorded, failed).',
      labelNames: ['reason', 'result'],
      registers,
    });
    this.updateNodes = new Gauge({
      name: 'metropolis_operator_osupdate_nodes',
      help: 'Nodes of each OSUpdate by node phase (Pending, Staged, Rebooting, Committed, ...).',
      labelNames: ['update', 'phase'],
      registers,
    });
    this.updateActions = new Counter({
      name: 'metropolis_operator_osupdate_actions_total',
      help: 'Rollout actions taken on node agents (stage, reboot, commit), by result.',
      labelNames: ['action', 'result'],
      registers,
    });
    this.updateStepSeconds = new Histogram({
      name: 'metropolis_operator_osupdate_step_seconds',
      help: 'Duration of rollout steps: stage (the StageUpdate call), reboot (reboot requested to committed).',
      labelNames: ['step'],
      buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600],
      registers,
    });
    if (options.processMetrics === true) {
      collectDefaultMetrics({ register: this.registry, prefix: 'metropolis_operator_' });
    }
  }

  /** Sets where the nodes gauge reads from at scrape time (the running reconciler). */
  observeNodes(source: () => readonly NodeSample[]): void {
    this.#nodes = source;
  }
}

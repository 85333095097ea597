// The operator: leader election first, then, only while leading, the MonogonNode and OSUpdate
// watches, the agent observer, the MonogonNode reconciler and the OSUpdate rollout engine. It is
// built from injected clients (main.ts, or a test) and plain settings.
import type { ConsensusMembership, MemberProbe } from './consensus/etcd-membership.js';
import { CoordinationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { monogonNodeResource, osUpdateResource } from '@metropolis/api';
import type { Logger } from '@metropolis/logging';
import { K8sOperatorWatcher, type ResourceWatcher } from './framework/k8s-operator.js';
import { EventRecorder, type EventSink } from './kube/event-recorder.js';
import { MonogonNodeApi } from './monogon-node/monogon-node-api.js';
import { NodeLeaseApi, type NodeLeaseSink } from './monogon-node/node-lease.js';
import { LeaderElector } from './leader/leader-elector.js';
import type { OperatorMetrics } from './metrics/operator-metrics.js';
import { AgentObserver } from './node-client/agent-observer.js';
import { OperatorError } from './errors.js';
import type { NodeAgentDialer } from './node-client/node-agent-client.js';
import { OSUpdateApi } from './os-update/os-update-api.js';
import { MonogonNodeReconciler } from './monogon-node/monogon-node-reconciler.js';
import { OSUpdateReconciler } from './os-update/os-update-reconciler.js';
import { parseMonogonNode } from './monogon-node/monogon-node-resource.js';
import { parseOSUpdate } from './os-update/os-update-resource.js';

export interface OperatorOptions {
  /** client-node 1.x configuration for every API call of ours. */
  readonly kubeConfig: KubeConfig;
  /** Connections to node agents (mTLS with the operator's certificate). */
  readonly dialer: NodeAgentDialer;
  /**
   * etcd membership, for ConsensusMember changes and quorum checks, given how to ask another
   * member's agent about its member; absent: such changes are refused.
   */
  readonly consensus?: (probe: MemberProbe) => ConsensusMembership;
  readonly logger: Logger;
  readonly metrics: OperatorMetrics;
  /** Unique per instance; the lease holder identity and the events' reportingInstance. */
  readonly identity: string;
  readonly lease: {
    readonly namespace: string;
    readonly name: string;
    /** @default 15_000 */
    readonly durationMs?: number;
    /** @default 10_000 */
    readonly renewDeadlineMs?: number;
    /** @default 2_000 */
    readonly retryPeriodMs?: number;
  };
  /** Silence after which a node is HEARTBEAT_TIMEOUT. */
  readonly heartbeatTimeoutMs: number;
  /** How often a status write that only refreshes lastHeartbeat or details may happen. */
  readonly statusRefreshMs: number;
  /** How often a node's heartbeat Lease (in lease.namespace) is renewed. */
  readonly nodeLeaseRenewMs: number;
  /** Namespace of the Events about (cluster-scoped) MonogonNodes. @default 'default' */
  readonly eventsNamespace?: string;
  /** How long to wait for the MonogonNode API to become watchable. @default 60_000 */
  readonly crdWaitMs?: number;
  /** Stream reconnect backoff. @default { minMs: 250, maxMs: 5_000 } */
  readonly reconnectBackoff?: { readonly minMs: number; readonly maxMs: number };
  /** The watch implementation. @default the @dot-i/k8s-operator adapter */
  readonly watcher?: () => ResourceWatcher;
  /** Where events go. @default an events.k8s.io/v1 recorder */
  readonly events?: EventSink;
  /** Where node Leases go. @default coordination.k8s.io/v1 Leases in lease.namespace */
  readonly leases?: NodeLeaseSink;
}

/** Reported through events.k8s.io reportingController. */
export const controllerName = 'metropolis.monogon.dev/operator';

export class Operator {
  readonly #options: OperatorOptions;
  readonly #log: Logger;
  readonly #elector: LeaderElector;
  readonly #nodes: MonogonNodeApi;
  readonly #events: EventSink;
  readonly #leases: NodeLeaseSink;

  constructor(options: OperatorOptions) {
    this.#options = options;
    this.#log = options.logger;
    const { kubeConfig, lease, metrics, identity } = options;
    this.#elector = new LeaderElector({
      api: kubeConfig.makeApiClient(CoordinationV1Api),
      namespace: lease.namespace,
      name: lease.name,
      identity,
      ...(lease.durationMs === undefined ? {} : { leaseDurationMs: lease.durationMs }),
      ...(lease.renewDeadlineMs === undefined ? {} : { renewDeadlineMs: lease.renewDeadlineMs }),
      ...(lease.retryPeriodMs === undefined ? {} : { retryPeriodMs: lease.retryPeriodMs }),
      logger: options.logger.child({ component: 'leader-elector' }),
      onLeadingChange: (leading) => {
        metrics.leader.set(leading ? 1 : 0);
      },
    });
    this.#nodes = new MonogonNodeApi(kubeConfig);
    this.#events =
      options.events ??
      new EventRecorder({
        kubeConfig,
        namespace: options.eventsNamespace ?? 'default',
        controller: controllerName,
        instance: identity,
        logger: options.logger.child({ component: 'event-recorder' }),
      });
    this.#leases =
      options.leases ??
      new NodeLeaseApi({
        kubeConfig,
        namespace: lease.namespace,
        holder: identity,
        // Renewed every interval while heard; silent longer than the timeout on top: not heard.
        durationSeconds: Math.ceil((options.nodeLeaseRenewMs + options.heartbeatTimeoutMs) / 1000),
        logger: options.logger.child({ component: 'node-lease' }),
      });
  }

  /**
   * Runs until `signal` aborts (then resolves, having released the lease).
   * @throws {OperatorError} `OPERATOR_LEADERSHIP_LOST`, `OPERATOR_CRD_NOT_READY`: the caller
   *   should exit and be restarted (crash-only).
   */
  run(signal: AbortSignal): Promise<void> {
    return this.#elector.run(signal, (leading) => this.#lead(leading));
  }

  async #lead(signal: AbortSignal): Promise<void> {
    const options = this.#options;
    await this.#nodes.waitUntilWatchable(signal, options.crdWaitMs ?? 60_000);
    const agents = new AgentObserver({
      dialer: options.dialer,
      metrics: options.metrics,
      logger: options.logger.child({ component: 'agent-observer' }),
      heartbeatTimeoutMs: options.heartbeatTimeoutMs,
      ...(options.reconnectBackoff === undefined
        ? {}
        : { reconnectBackoff: options.reconnectBackoff }),
    });
    const consensus = options.consensus?.(consensusProbe(agents));
    const reconciler = new MonogonNodeReconciler({
      store: this.#nodes,
      events: this.#events,
      leases: this.#leases,
      leaseRenewMs: options.nodeLeaseRenewMs,
      agents,
      ...(consensus === undefined ? {} : { consensus }),
      metrics: options.metrics,
      logger: options.logger.child({ component: 'monogon-node-reconciler' }),
      heartbeatTimeoutMs: options.heartbeatTimeoutMs,
      statusRefreshMs: options.statusRefreshMs,
    });
    const rollouts = new OSUpdateReconciler({
      store: new OSUpdateApi(options.kubeConfig),
      events: this.#events,
      agents,
      consensus,
      metrics: options.metrics,
      logger: options.logger.child({ component: 'os-update-reconciler' }),
      operatorNode: options.identity,
    });
    const reconciling = Promise.all([
      agents.run(signal),
      reconciler.run(signal),
      rollouts.run(signal),
    ]);
    const watcher = options.watcher?.() ?? this.#frameworkWatcher();
    try {
      if (!signal.aborted) {
        await watcher.watch(monogonNodeResource, parseMonogonNode, async (event) => {
          await reconciler.handle(event);
          rollouts.handleNode(event);
        });
        await watcher.watch(osUpdateResource, parseOSUpdate, (event) =>
          rollouts.handleUpdate(event),
        );
        this.#log.info('watching MonogonNodes and OSUpdates');
      }
      // A failed watch ends the term (crash-only): main.ts exits and the agent restarts us.
      await Promise.race([reconciling, watcher.failed()]);
    } finally {
      watcher.stop();
      options.metrics.observeWatchWorker(() => Promise.resolve(undefined));
    }
  }

  /** The watch framework in its worker thread, whose heap the metrics report. */
  #frameworkWatcher(): ResourceWatcher {
    const watcher = new K8sOperatorWatcher({
      kubeconfig: this.#options.kubeConfig.exportConfig(),
      logger: this.#options.logger.child({ component: 'k8s-operator' }),
    });
    this.#options.metrics.observeWatchWorker(() => watcher.heapStatistics());
    return watcher;
  }
}

/** How long a member's agent may take to answer CheckConsensus before the member is unhealthy. */
const consensusCheckTimeoutMs = 3_000;

/** Asks etcd members' agents over the observer's connections, found by address. */
function consensusProbe(agents: AgentObserver): MemberProbe {
  return (address) => {
    const connection = agents.connectionAt(address);
    if (connection === undefined) {
      return Promise.reject(
        new OperatorError('OPERATOR_ETCD', `no node agent is observed at ${address}`),
      );
    }
    return connection.checkConsensus(consensusCheckTimeoutMs);
  };
}

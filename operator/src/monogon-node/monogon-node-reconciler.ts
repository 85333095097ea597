// The MonogonNode reconciler: it tells the agent observer which nodes to stream from, and runs a
// level-triggered reconcile per node (observe, decide with node-status.ts, act: status, events,
// the node's heartbeat Lease) on each watch event, each change the observer publishes and each
// deadline the decision names. Safe to repeat: the same inputs produce no new status write, no
// new ApplyRoles call and no new event.
import { errorMessage } from '@metropolis/errors';
import type { Logger } from '@metropolis/logging';
import { sleep, untilAborted } from '@metropolis/supervisor';
import {
  monogonNodeApiVersion,
  monogonNodeKind,
  type MonogonNodeRole,
  type MonogonNodeStatus,
} from '@metropolis/api';
import { promoteRetryMs, type ConsensusMembership } from '../consensus/etcd-membership.js';
import { NodeCallError, OperatorError } from '../errors.js';
import type { WatchEvent } from '../framework/k8s-operator.js';
import type { EventSink, EventSubject } from '../kube/event-recorder.js';
import { etcdMemberFinalizer, type MonogonNodeStore } from './monogon-node-api.js';
import type { NodeSample, OperatorMetrics } from '../metrics/operator-metrics.js';
import type { AgentObserver, ObservedAgent } from '../node-client/agent-observer.js';
import type { AgentReport } from '../node-client/agent-report.js';
import type { NodeAgentConnection } from '../node-client/node-agent-client.js';
import type { NodeResource } from './monogon-node-resource.js';
import { nodeEvents } from './node-events.js';
import type { NodeLeaseSink } from './node-lease.js';
import {
  desiredNodeStatus,
  needsPromotion,
  rolesToApply,
  type NodeStatusInput,
  type Observation,
  type RolesAttempt,
} from './node-status.js';
import {
  leaseRenewal,
  statusWriteDecision,
  type StatusWriteDecision,
} from './status-write-policy.js';

export interface MonogonNodeReconcilerOptions {
  readonly store: MonogonNodeStore;
  readonly events: EventSink;
  /** The nodes' heartbeat Leases. */
  readonly leases: NodeLeaseSink;
  /** How often a node's Lease is renewed while its agent reports. */
  readonly leaseRenewMs: number;
  /** The node agents' reports; this reconciler tells it which nodes to stream from. */
  readonly agents: AgentObserver;
  readonly metrics: OperatorMetrics;
  readonly logger: Logger;
  /** etcd membership; without it, ConsensusMember changes are refused with a condition. */
  readonly consensus?: ConsensusMembership;
  /** Silence after which a node is HEARTBEAT_TIMEOUT. */
  readonly heartbeatTimeoutMs: number;
  /** A status that only refreshes lastHeartbeat or details is written at most this often. */
  readonly statusRefreshMs: number;
  /** Pause before repeating an ApplyRoles that failed (not UNIMPLEMENTED). @default 30_000 */
  readonly rolesRetryMs?: number;
  /** @default 10_000 */
  readonly callTimeoutMs?: number;
}

const kind = monogonNodeKind;

/** What the reconciler knows about one node, in memory only (crash-only: all is re-learned). */
interface NodeTracker {
  readonly name: string;
  node: NodeResource;
  readonly trackingSinceMs: number;
  /** The agent's latest report (its time is the observer's lastHeardMs, read per pass). */
  report: AgentReport | undefined;
  rolesAttempt: RolesAttempt | undefined;
  /** The renewTime of this operator's last Lease write (undefined: none yet). */
  leaseRenewedMs: number | undefined;
  /** The status last written and the resourceVersion the write produced. */
  lastWrite: { readonly resourceVersion: string; readonly status: MonogonNodeStatus } | undefined;
  /** Follows the observer's value for this node; aborted when the node is forgotten. */
  following: AbortController | undefined;
  timer: NodeJS.Timeout | undefined;
  timerAtMs: number | undefined;
  /** The reconcile loop, while one runs (`running`); kicks while it runs set `dirty`. */
  loop: Promise<void> | undefined;
  running: boolean;
  dirty: boolean;
  errors: number;
  forgotten: boolean;
  /** The etcd member of this DECOMMISSIONED node was removed (or never was). */
  memberRemoved: boolean;
}

export class MonogonNodeReconciler {
  readonly #options: MonogonNodeReconcilerOptions;
  readonly #log: Logger;
  readonly #trackers = new Map<string, NodeTracker>();
  /** Deleted nodes whose etcd member is being removed before their finalizer goes. */
  readonly #releasing = new Set<string>();
  #signal: AbortSignal | undefined;

  constructor(options: MonogonNodeReconcilerOptions) {
    this.#options = options;
    this.#log = options.logger;
  }

  /**
   * Reconciles until `signal` aborts, then stops observing every node and waits for running
   * reconciles. Call before the first {@link handle}.
   */
  async run(signal: AbortSignal): Promise<void> {
    this.#signal = signal;
    this.#options.metrics.observeNodes(() => this.samples());
    await untilAborted(signal);
    const loops = [...this.#trackers.values()].map((tracker) => tracker.loop);
    for (const name of [...this.#trackers.keys()]) this.#forget(name);
    await Promise.all(loops.filter((loop) => loop !== undefined));
    this.#options.metrics.observeNodes(() => []);
  }

  /** Takes in a watch event. Returns quickly: network work happens in per-node loops. */
  handle(event: WatchEvent<NodeResource>): Promise<void> {
    const node = event.object;
    const name = node.metadata.name;
    if (event.type === 'DELETED' || node.metadata.deletionTimestamp !== undefined) {
      this.#gone(name);
      if (event.type !== 'DELETED' && node.metadata.finalizers?.includes(etcdMemberFinalizer)) {
        this.#release(node);
      }
      return Promise.resolve();
    }
    const tracker = this.#trackers.get(name);
    if (tracker === undefined) {
      const created: NodeTracker = {
        name,
        node,
        trackingSinceMs: Date.now(),
        report: undefined,
        rolesAttempt: undefined,
        leaseRenewedMs: undefined,
        lastWrite: undefined,
        following: undefined,
        timer: undefined,
        timerAtMs: undefined,
        loop: undefined,
        running: false,
        dirty: false,
        errors: 0,
        forgotten: false,
        memberRemoved: false,
      };
      this.#trackers.set(name, created);
      this.#log.info('tracking node', { node: name, address: node.status.address });
      this.#observe(created);
      this.#kick(created);
      return Promise.resolve();
    }
    // The echo of our own write, or a repeat after a watch restart: nothing new.
    if (tracker.node.metadata.resourceVersion === node.metadata.resourceVersion) {
      return Promise.resolve();
    }
    tracker.node = node;
    this.#observe(tracker);
    this.#kick(tracker);
    return Promise.resolve();
  }

  /** State and health of every tracked node, for the nodes gauge. */
  samples(): NodeSample[] {
    return [...this.#trackers.values()].map((tracker) => ({
      state: tracker.node.status.state,
      health: tracker.node.status.health,
    }));
  }

  /**
   * Streams from the node's current address (none without one), and follows its reports. Only
   * an admitted node is dialled: its certificate was issued for that address on approval,
   * while a NEW node's address is merely what an unproven registration claimed.
   */
  #observe(tracker: NodeTracker): void {
    const signal = this.#signal;
    if (signal === undefined || signal.aborted || tracker.forgotten) return;
    const address = tracker.node.status.address ?? '';
    const state = tracker.node.status.state;
    const admitted = tracker.node.spec.approved === true || state === 'UP' || state === 'STANDBY';
    const wanted = admitted && state !== 'DECOMMISSIONED' ? address : '';
    const { agents } = this.#options;
    agents.track(tracker.name, wanted);
    if (tracker.following !== undefined) return;
    const agent = agents.agent(tracker.name);
    if (agent === undefined) return;
    const following = new AbortController();
    tracker.following = following;
    void (async () => {
      for await (const seen of agent.watch(AbortSignal.any([signal, following.signal]))) {
        this.#onObserved(tracker, seen);
      }
    })();
  }

  /** A change the observer published: a new report, or the stream lost or back. */
  #onObserved(tracker: NodeTracker, seen: ObservedAgent): void {
    if (tracker.forgotten) return;
    const report = seen.report;
    if (report !== undefined && report !== tracker.report && report.unknownRoles.length > 0) {
      this.#log.warn('node reports roles this operator does not know', {
        node: tracker.name,
        roles: report.unknownRoles,
      });
    }
    if (report !== undefined) tracker.report = report;
    this.#kick(tracker);
  }

  /** The latest report with when the agent was last heard from (every heartbeat moves it). */
  #observation(tracker: NodeTracker): Observation | undefined {
    const report = tracker.report;
    if (report === undefined) return undefined;
    return {
      report,
      receivedAtMs: this.#options.agents.lastHeardMs(tracker.name) ?? tracker.trackingSinceMs,
    };
  }

  /** Runs a reconcile for `tracker` now, or right after the one in progress. */
  #kick(tracker: NodeTracker): void {
    if (tracker.forgotten || this.#signal?.aborted !== false) return;
    tracker.dirty = true;
    if (tracker.running) return;
    tracker.running = true;
    tracker.loop = this.#loop(tracker);
  }

  async #loop(tracker: NodeTracker): Promise<void> {
    while (this.#again(tracker)) {
      tracker.dirty = false;
      await this.#reconcileSafely(tracker);
    }
    // In the same synchronous step as the last check, so no kick can fall in between.
    tracker.running = false;
  }

  // A method, so the compiler does not assume `dirty` is unchanged across the await.
  #again(tracker: NodeTracker): boolean {
    return tracker.dirty && !tracker.forgotten && this.#signal?.aborted === false;
  }

  async #reconcileSafely(tracker: NodeTracker): Promise<void> {
    const { metrics } = this.#options;
    try {
      const result = await this.#reconcile(tracker);
      metrics.reconciles.inc({ kind, result });
      tracker.errors = 0;
    } catch (error) {
      const code = error instanceof OperatorError ? error.code : 'UNEXPECTED';
      metrics.reconciles.inc({ kind, result: 'error' });
      metrics.reconcileErrors.inc({ kind, code });
      tracker.errors++;
      // Retry on a timer with backoff; a watch event or a report may come sooner.
      const delayMs = Math.min(30_000, 500 * 2 ** Math.min(tracker.errors, 6));
      this.#log.warn('reconcile failed', {
        node: tracker.name,
        code,
        error: errorMessage(error),
        retryInMs: delayMs,
      });
      this.#arm(tracker, Date.now() + delayMs);
    }
  }

  /** One pass: observe, decide, act. */
  async #reconcile(tracker: NodeTracker): Promise<'success' | 'conflict'> {
    const options = this.#options;
    const input = (): NodeStatusInput => ({
      node: tracker.node,
      observation: this.#observation(tracker),
      trackingSinceMs: tracker.trackingSinceMs,
      rolesAttempt: tracker.rolesAttempt,
      nowMs: Date.now(),
      heartbeatTimeoutMs: options.heartbeatTimeoutMs,
      rolesRetryMs: options.rolesRetryMs ?? 30_000,
    });
    if (this.#needsFinalizer(tracker)) {
      const marked = await options.store.replaceFinalizers(tracker.node, [
        ...(tracker.node.metadata.finalizers ?? []),
        etcdMemberFinalizer,
      ]);
      if (marked.kind !== 'written') return this.#reread(tracker, marked.kind);
      tracker.node = marked.node;
    }
    await this.#removeDecommissioned(tracker);
    const roles = rolesToApply(input());
    if (roles !== undefined && tracker.report !== undefined) {
      tracker.rolesAttempt = await this.#applyRoles(tracker, roles, tracker.report);
    }
    const caughtUp = needsPromotion(input()) ? await this.#promote(tracker) : true;
    const desired = desiredNodeStatus(input());
    // A learner catching up is asked again shortly.
    this.#arm(
      tracker,
      caughtUp
        ? desired.nextCheckAtMs
        : Math.min(
            desired.nextCheckAtMs ?? Infinity,
            Date.now() + promoteRetryMs(Date.now() - (tracker.rolesAttempt?.atMs ?? 0)),
          ),
    );
    // Compare with what we wrote at this very version: should the API have dropped a field
    // we sent, comparing with the stored object would rewrite it forever.
    const written = tracker.lastWrite;
    const base =
      written !== undefined && written.resourceVersion === tracker.node.metadata.resourceVersion
        ? written.status
        : tracker.node.status;
    const decision = statusWriteDecision(base, desired.status, options.statusRefreshMs);
    this.#log.debug('reconciled', { node: tracker.name, decision: decision.kind });
    if (decision.kind === 'defer') {
      // Heartbeats wake nobody: the refresh of lastHeartbeat is a deadline of its own.
      this.#armSooner(tracker, Date.parse(base.lastHeartbeat ?? '') + options.statusRefreshMs);
    }
    if (decision.kind !== 'none' && decision.kind !== 'defer') {
      const written = await this.#writeStatus(tracker, desired.status, decision);
      if (written !== 'success') return written;
    }
    await this.#renewLease(tracker);
    return 'success';
  }

  /** Renews the node's Lease when the policy says so; else arms the next look. */
  async #renewLease(tracker: NodeTracker): Promise<void> {
    const { agents, leases, leaseRenewMs, heartbeatTimeoutMs, metrics } = this.#options;
    const heardMs = agents.lastHeardMs(tracker.name);
    if (heardMs === undefined || tracker.report === undefined || tracker.forgotten) return;
    const now = Date.now();
    const renewal = leaseRenewal(
      tracker.leaseRenewedMs,
      heardMs,
      now,
      leaseRenewMs,
      heartbeatTimeoutMs,
    );
    if (renewal.kind === 'wait') {
      this.#armSooner(tracker, renewal.atMs);
      return;
    }
    const renewed = await leases.renew(
      { name: tracker.name, uid: tracker.node.metadata.uid },
      heardMs,
    );
    metrics.leaseWrites.inc({ result: renewed ? 'written' : 'error' });
    if (renewed) tracker.leaseRenewedMs = heardMs;
    // A failed renewal is tried again after a heartbeat timeout.
    this.#armSooner(tracker, renewed ? heardMs + leaseRenewMs : now + heartbeatTimeoutMs);
  }

  /** Writes the status and records the events of the transition it made. */
  async #writeStatus(
    tracker: NodeTracker,
    status: MonogonNodeStatus,
    decision: Extract<StatusWriteDecision, { kind: 'change' | 'refresh' }>,
  ): Promise<'success' | 'conflict'> {
    const options = this.#options;
    const trigger = decision.kind;
    const before = tracker.node;
    let result;
    try {
      result = await options.store.replaceStatus(before, status);
    } catch (error) {
      options.metrics.statusWrites.inc({ trigger, result: 'error' });
      throw error;
    }
    options.metrics.statusWrites.inc({ trigger, result: result.kind });
    switch (result.kind) {
      case 'written': {
        tracker.node = result.node;
        tracker.lastWrite = {
          resourceVersion: result.node.metadata.resourceVersion,
          status,
        };
        if (decision.kind === 'change') {
          this.#log.info('status written', {
            node: tracker.name,
            fields: decision.fields,
            state: status.state,
            health: status.health,
          });
        } else {
          this.#log.debug('heartbeat refreshed', { node: tracker.name });
        }
        // Events follow from a write conditioned on the version they compare against, so
        // each transition is recorded once, by whoever wrote it.
        const subject: EventSubject = {
          apiVersion: monogonNodeApiVersion,
          kind,
          name: tracker.name,
          uid: before.metadata.uid,
        };
        for (const event of nodeEvents(before.status, status)) {
          const recorded = await options.events.record(subject, event);
          options.metrics.events.inc({
            reason: event.reason,
            result: recorded ? 'recorded' : 'failed',
          });
        }
        return 'success';
      }
      case 'conflict':
      case 'notFound':
        return this.#reread(tracker, result.kind);
    }
  }

  /** After a conditional write that found a newer node (reads it again) or none. */
  async #reread(
    tracker: NodeTracker,
    outcome: 'conflict' | 'notFound',
  ): Promise<'success' | 'conflict'> {
    if (outcome === 'notFound') {
      this.#gone(tracker.name);
      return 'success';
    }
    this.#log.debug('write conflict, reading again', { node: tracker.name });
    const fresh = await this.#options.store.get(tracker.name);
    if (fresh === undefined) {
      this.#gone(tracker.name);
    } else {
      tracker.node = fresh;
      this.#observe(tracker);
      tracker.dirty = true;
    }
    return 'conflict';
  }

  /**
   * Whether the node may hold an etcd member and lacks the finalizer that makes its deletion
   * wait until the member is removed. Set before the member is added.
   */
  #needsFinalizer(tracker: NodeTracker): boolean {
    const member = 'ConsensusMember';
    return (
      this.#options.consensus !== undefined &&
      tracker.node.status.state !== 'DECOMMISSIONED' &&
      ((tracker.node.spec.roles ?? []).includes(member) ||
        (tracker.report?.appliedRoles.includes(member) ?? false)) &&
      !(tracker.node.metadata.finalizers ?? []).includes(etcdMemberFinalizer)
    );
  }

  /** A DECOMMISSIONED node leaves etcd (quorum-checked; a refusal is retried with backoff). */
  async #removeDecommissioned(tracker: NodeTracker): Promise<void> {
    const { consensus } = this.#options;
    const address = tracker.node.status.address ?? '';
    if (tracker.node.status.state !== 'DECOMMISSIONED' || tracker.memberRemoved) return;
    if (consensus !== undefined && address !== '') {
      await consensus.remove(address);
      this.#log.info('etcd member of a decommissioned node removed', { node: tracker.name });
    }
    tracker.memberRemoved = true;
  }

  /**
   * A deleted node holding the finalizer: removes its etcd member (quorum-checked), then the
   * finalizer, so the object goes only once the member did. Retried with backoff until done
   * or this operator stops; the next leader starts over from the watch's list.
   */
  #release(node: NodeResource): void {
    const name = node.metadata.name;
    const signal = this.#signal;
    if (this.#releasing.has(name) || signal === undefined) return;
    this.#releasing.add(name);
    void (async () => {
      let pending: NodeResource | undefined = node;
      let failures = 0;
      while (pending !== undefined && !signal.aborted) {
        try {
          pending = await this.#releaseOnce(pending);
        } catch (error) {
          failures++;
          const delayMs = Math.min(30_000, 500 * 2 ** Math.min(failures, 6));
          this.#log.warn('etcd member of a deleted node not removed yet', {
            node: name,
            error: errorMessage(error),
            retryInMs: delayMs,
          });
          await sleep(delayMs, signal);
        }
      }
      this.#releasing.delete(name);
    })();
  }

  /** One attempt; the node to try again with after a conflict, or undefined when done. */
  async #releaseOnce(node: NodeResource): Promise<NodeResource | undefined> {
    const { consensus, store } = this.#options;
    const address = node.status.address ?? '';
    if (consensus === undefined) {
      throw new OperatorError(
        'OPERATOR_ETCD',
        'this operator has no etcd access (--etcd-endpoint): it cannot remove the etcd member of a deleted node',
      );
    }
    if (address !== '') await consensus.remove(address);
    const rest = (node.metadata.finalizers ?? []).filter((f) => f !== etcdMemberFinalizer);
    const result = await store.replaceFinalizers(node, rest);
    if (result.kind !== 'conflict') {
      this.#log.info('etcd member of a deleted node removed', { node: node.metadata.name });
      return undefined;
    }
    const fresh = await store.get(node.metadata.name);
    return fresh?.metadata.finalizers?.includes(etcdMemberFinalizer) === true ? fresh : undefined;
  }

  async #applyRoles(
    tracker: NodeTracker,
    roles: MonogonNodeRole[],
    report: AgentReport,
  ): Promise<RolesAttempt> {
    const connection = this.#options.agents.connection(tracker.name);
    const attempt = (
      outcome: RolesAttempt['outcome'],
      message: string,
      notRunning: RolesAttempt['notRunning'] = [],
    ): RolesAttempt => ({
      roles,
      bootTimeMs: report.bootTimeMs,
      outcome,
      message,
      notRunning,
      atMs: Date.now(),
    });
    let result: RolesAttempt;
    if (connection === undefined) {
      result = attempt('failed', 'no connection to the node agent');
    } else {
      try {
        result = attempt(
          'applied',
          '',
          await this.#changeRoles(tracker, connection, roles, report),
        );
      } catch (error) {
        if (error instanceof NodeCallError && error.reason === 'unimplemented') {
          result = attempt('notBuilt', error.details);
        } else if (
          (error instanceof OperatorError && error.code === 'OPERATOR_QUORUM') ||
          (error instanceof NodeCallError && error.reason === 'failed')
        ) {
          result = attempt(
            'refused',
            error instanceof NodeCallError ? error.details : errorMessage(error),
          );
        } else {
          result = attempt('failed', errorMessage(error));
        }
      }
    }
    this.#options.metrics.applyRolesCalls.inc({ result: result.outcome });
    this.#log[result.outcome === 'applied' ? 'info' : 'warn']('ApplyRoles called', {
      node: tracker.name,
      roles,
      outcome: result.outcome,
      detail: result.message,
    });
    return result;
  }

  /**
   * The etcd side of a role change, then ApplyRoles. A leaving member is removed from etcd
   * first (after the node said it would accept), so it never stops while still counted for
   * quorum; a joining one is added as a learner first, so it has a cluster to join.
   */
  async #changeRoles(
    tracker: NodeTracker,
    connection: NodeAgentConnection,
    roles: MonogonNodeRole[],
    report: AgentReport,
  ) {
    const timeoutMs = this.#options.callTimeoutMs ?? 10_000;
    const member = 'ConsensusMember';
    const adding = roles.includes(member) && !report.appliedRoles.includes(member);
    const removing = !roles.includes(member) && report.appliedRoles.includes(member);
    const address = tracker.node.status.address ?? '';
    const consensus = this.#options.consensus;
    if ((adding || removing) && consensus === undefined) {
      throw new OperatorError(
        'OPERATOR_ETCD',
        'this operator has no etcd access (--etcd-endpoint): it cannot change etcd membership',
      );
    }
    let initialCluster: string | undefined;
    if (removing && consensus !== undefined) {
      await connection.applyRoles({ roles, validateOnly: true }, timeoutMs);
      await consensus.remove(address);
      this.#log.info('etcd member removed', { node: tracker.name });
    }
    if (adding && consensus !== undefined) {
      initialCluster = await consensus.join(tracker.name, address);
      this.#log.info('etcd learner added', { node: tracker.name });
    }
    return connection.applyRoles(
      initialCluster === undefined ? { roles } : { roles, initialCluster },
      timeoutMs,
    );
  }

  /** Promotes the node's etcd learner; false while it is still catching up. */
  async #promote(tracker: NodeTracker): Promise<boolean> {
    const consensus = this.#options.consensus;
    if (consensus === undefined) return true;
    const result = await consensus.promote(tracker.node.status.address ?? '');
    if (result === 'voting') this.#log.info('etcd member voting', { node: tracker.name });
    return result !== 'catchingUp';
  }

  #arm(tracker: NodeTracker, atMs: number | undefined): void {
    clearTimeout(tracker.timer);
    tracker.timer = undefined;
    tracker.timerAtMs = undefined;
    if (atMs === undefined || Number.isNaN(atMs) || tracker.forgotten) return;
    tracker.timerAtMs = atMs;
    tracker.timer = setTimeout(
      () => {
        tracker.timer = undefined;
        tracker.timerAtMs = undefined;
        this.#kick(tracker);
      },
      Math.max(0, atMs - Date.now()),
    );
  }

  /** Arms the timer for `atMs` unless it already fires sooner. */
  #armSooner(tracker: NodeTracker, atMs: number): void {
    if (tracker.timerAtMs !== undefined && tracker.timerAtMs <= atMs) return;
    this.#arm(tracker, atMs);
  }

  /** The node is deleted: forgets it, and deletes its Lease (no garbage collector runs). */
  #gone(name: string): void {
    const known = this.#trackers.has(name);
    this.#forget(name);
    if (known) void this.#options.leases.remove(name);
  }

  #forget(name: string): void {
    const tracker = this.#trackers.get(name);
    if (tracker === undefined) return;
    this.#trackers.delete(name);
    tracker.forgotten = true;
    clearTimeout(tracker.timer);
    tracker.following?.abort();
    this.#options.agents.forget(name);
    this.#log.info('node forgotten', { node: name });
  }
}

// The OSUpdate engine around the pure planner: each pass reads every OSUpdate, the nodes each
// selects, their agents' latest reports (from the agent observer) and etcd's members; plans;
// writes the status conditioned on the version read; and only then acts (StageUpdate in the
// background, SetNextBoot + Reboot, CommitBoot, events). A pass runs on an event (an OSUpdate or
// MonogonNode change, an observed agent's change, a finished stage) or a deadline, never on a
// poll. The status is the only memory that matters: a new leader resumes from it.
import { errorMessage } from '@metropolis/errors';
import { Value } from '@metropolis/event';
import type { Logger } from '@metropolis/logging';
import {
  isTerminalOSUpdatePhase,
  osUpdateApiVersion,
  osUpdateKind,
  type OSUpdateNodeStatus,
} from '@metropolis/api';
import type { ConsensusMembership } from '../consensus/etcd-membership.js';
import { NodeCallError } from '../errors.js';
import type { EventSink } from '../kube/event-recorder.js';
import type { OSUpdateStore } from './os-update-api.js';
import type { WatchEvent } from '../framework/k8s-operator.js';
import type { OperatorMetrics } from '../metrics/operator-metrics.js';
import type { AgentObserver, ObservedAgent } from '../node-client/agent-observer.js';
import type { NodeResource } from '../monogon-node/monogon-node-resource.js';
import type { OSUpdateResource } from './os-update-resource.js';
import { agentView } from './agent-view.js';
import type { EtcdView } from '../consensus/etcd-view.js';
import { isConsensusMember } from './disruption-budget.js';
import { nodeClaims, type OtherUpdateView } from './node-claims.js';
import { planRollout } from './plan/plan-rollout.js';
import type { RolloutAction, RolloutNodeView, StageResult } from './plan/rollout-types.js';

export interface OSUpdateReconcilerOptions {
  readonly store: OSUpdateStore;
  readonly events: EventSink;
  /** The node agents' latest reports and the connections to call them on. */
  readonly agents: AgentObserver;
  /** etcd's members for the quorum check; without it no consensus member is rebooted. */
  readonly consensus: ConsensusMembership | undefined;
  readonly metrics: OperatorMetrics;
  readonly logger: Logger;
  /** The node this operator runs on (its --identity): updated last in its tier. */
  readonly operatorNode: string | undefined;
  /** @default 10_000 */
  readonly callTimeoutMs?: number;
  /**
   * How soon to plan again when something only a read can tell may have changed: etcd's view
   * while a selected consensus member is not a healthy voter, a call that failed. @default 1000
   */
  readonly recheckMs?: number;
  /**
   * How many of a plan's actions (agent calls, events) run at once. Each node's are independent:
   * in series, a step of 50 nodes waits for 50 commits or reboots one after the other.
   * @default 16
   */
  readonly actionConcurrency?: number;
}

/** What this process knows beyond the status, per OSUpdate (lost on restart, by design). */
interface UpdateMemory {
  readonly staging: Set<string>;
  readonly stageResults: StageResult[];
  readonly reboots: Map<string, number>;
  readonly stages: AbortController;
}

export class OSUpdateReconciler {
  readonly #options: OSUpdateReconcilerOptions;
  readonly #log: Logger;
  readonly #memory = new Map<string, UpdateMemory>();
  readonly #reportedMalformed = new Set<string>();
  /** Bumped by every reason to plan; the run loop passes once per change it sees (coalesced). */
  readonly #wanted = new Value(0);
  /** Some OSUpdate was under way at the last pass: MonogonNode changes matter. */
  #active = false;
  /** What of each MonogonNode a plan reads, as last seen: other changes wake nobody. */
  readonly #nodeKeys = new Map<string, string>();
  /** Bumped by every MonogonNode event that changes what a plan reads. */
  #nodeGeneration = 0;
  /**
   * The MonogonNodes each node selector selected, listed at a generation: reused while no event
   * changed what a plan reads, so a pass woken by an agent (most passes of a rollout) lists
   * nothing. The watch delivers every change, so a list is stale only once an event said so.
   */
  readonly #selections = new Map<string, { generation: number; nodes: NodeResource[] }>();
  /** Observed agents of nodes an update under way selects; each change wakes a pass. */
  readonly #followed = new Map<
    string,
    { readonly agent: Value<ObservedAgent>; readonly stop: AbortController }
  >();
  /** The resourceVersion of our last status write per OSUpdate: its watch echo is no news. */
  readonly #written = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;
  #timerAtMs: number | undefined;
  #signal: AbortSignal | undefined;

  constructor(options: OSUpdateReconcilerOptions) {
    this.#options = options;
    this.#log = options.logger;
  }

  /**
   * Plans once at start, then after every reason to (events during a pass cause exactly one
   * more pass), until `signal` aborts; then cancels stages.
   */
  async run(signal: AbortSignal): Promise<void> {
    this.#signal = signal;
    try {
      // The first value is the current one: the pass at start.
      for await (const _wanted of this.#wanted.watch(signal)) {
        try {
          await this.#pass(signal);
        } catch (error) {
          this.#options.metrics.reconcileErrors.inc({ kind: osUpdateKind, code: codeOf(error) });
          this.#log.warn('rollout pass failed', { error: errorMessage(error) });
          this.#retrySoon();
        }
      }
    } finally {
      clearTimeout(this.#timer);
      for (const { stop } of this.#followed.values()) stop.abort();
      this.#followed.clear();
      for (const memory of this.#memory.values()) memory.stages.abort();
    }
  }

  /** Plans again, now or right after the pass under way. */
  kick(): void {
    this.#wanted.set(this.#wanted.get() + 1);
  }

  /** An OSUpdate watch event: plans again, unless it is the echo of our own status write. */
  handleUpdate(event: WatchEvent<OSUpdateResource>): Promise<void> {
    const { name, resourceVersion } = event.object.metadata;
    if (event.type !== 'DELETED' && this.#written.get(name) === resourceVersion) {
      return Promise.resolve();
    }
    this.kick();
    return Promise.resolve();
  }

  /**
   * A MonogonNode watch event: plans again while an update is under way and something a plan
   * reads changed (state, health, roles, labels, address), not for a mere heartbeat refresh.
   */
  handleNode(event: WatchEvent<NodeResource>): void {
    const node = event.object;
    const name = node.metadata.name;
    const gone = event.type === 'DELETED' || node.metadata.deletionTimestamp !== undefined;
    const key = gone
      ? undefined
      : JSON.stringify([
          node.status.state,
          node.status.health,
          node.status.address,
          node.spec.roles,
          node.metadata.labels,
        ]);
    if (this.#nodeKeys.get(name) === key) return;
    if (key === undefined) this.#nodeKeys.delete(name);
    else this.#nodeKeys.set(name, key);
    this.#nodeGeneration++;
    if (this.#active) this.kick();
  }

  /** One pass over every OSUpdate. */
  async #pass(signal: AbortSignal): Promise<void> {
    const { store } = this.#options;
    const { updates, malformed } = await store.list();
    for (const { name, message } of malformed) {
      if (this.#reportedMalformed.has(name)) continue;
      this.#reportedMalformed.add(name);
      this.#log.error('OSUpdate cannot be read, skipped', { update: name, error: message });
    }
    const ordered = [...updates].sort(
      (a, b) => createdAtMs(a) - createdAtMs(b) || a.metadata.name.localeCompare(b.metadata.name),
    );
    const selected = new Map<string, NodeResource[]>();
    const lists = new Map<string, NodeResource[]>();
    for (const update of ordered) {
      const key = JSON.stringify(update.spec.nodeSelector ?? null);
      const nodes = lists.get(key) ?? (await this.#selectNodes(key, update.spec.nodeSelector));
      lists.set(key, nodes);
      selected.set(update.metadata.name, nodes);
    }
    for (const key of [...this.#selections.keys()]) {
      if (!lists.has(key)) this.#selections.delete(key);
    }
    const others: OtherUpdateView[] = ordered.map((update) => ({
      name: update.metadata.name,
      createdAtMs: createdAtMs(update),
      phase: update.status.phase,
      selectedNodes: (selected.get(update.metadata.name) ?? []).map((node) => node.metadata.name),
      entries: update.status.nodes ?? [],
    }));
    this.#forgetGone(new Set(ordered.map((update) => update.metadata.uid)));
    for (const name of [...this.#written.keys()]) {
      if (!ordered.some((update) => update.metadata.name === name)) this.#written.delete(name);
    }
    let active = false;
    const following = new Set<string>();
    let nextAtMs = Infinity;
    // One update at a time, each with a fresh etcd view: two plans never rely on the same one.
    for (const update of ordered) {
      if (signal.aborted) break;
      const memory = this.#memory.get(update.metadata.uid);
      const done =
        isTerminalOSUpdatePhase(update.status.phase) &&
        update.status.observedGeneration === update.metadata.generation &&
        (memory === undefined || (memory.staging.size === 0 && memory.stageResults.length === 0));
      if (done) continue;
      active = true;
      const nodes = selected.get(update.metadata.name) ?? [];
      for (const node of nodes) following.add(node.metadata.name);
      const next = await this.#reconcile(update, nodes, others, signal);
      nextAtMs = Math.min(nextAtMs, next ?? Infinity);
    }
    this.#active = active;
    this.#follow(following);
    if (Number.isFinite(nextAtMs)) this.#armSooner(nextAtMs);
    this.#updateGauge(ordered);
  }

  /** The nodes `selector` selects: listed unless an earlier list is still current. */
  async #selectNodes(
    key: string,
    selector: OSUpdateResource['spec']['nodeSelector'],
  ): Promise<NodeResource[]> {
    const cached = this.#selections.get(key);
    if (cached !== undefined && cached.generation === this.#nodeGeneration) return cached.nodes;
    // An event that arrives while the list is read may be newer than the list: it counts.
    const generation = this.#nodeGeneration;
    const nodes = await this.#options.store.selectNodes(selector);
    this.#selections.set(key, { generation, nodes });
    return nodes;
  }

  /** Wakes a pass on every change of the observed agents of `nodes`, and of no others. */
  #follow(nodes: ReadonlySet<string>): void {
    const signal = this.#signal;
    if (signal === undefined) return;
    for (const [name, followed] of this.#followed) {
      if (nodes.has(name) && this.#options.agents.agent(name) === followed.agent) continue;
      followed.stop.abort();
      this.#followed.delete(name);
    }
    for (const name of nodes) {
      if (this.#followed.has(name)) continue;
      // Not observed yet (no address): its MonogonNode event brings it in later.
      const agent = this.#options.agents.agent(name);
      if (agent === undefined) continue;
      const stop = new AbortController();
      this.#followed.set(name, { agent, stop });
      void (async () => {
        let first = true;
        for await (const _seen of agent.watch(AbortSignal.any([signal, stop.signal]))) {
          // The first value is the one this pass already planned with.
          if (!first) this.kick();
          first = false;
        }
      })();
    }
  }

  /** A pass at `atMs`, unless one is already due sooner. */
  #armSooner(atMs: number): void {
    if (this.#timerAtMs !== undefined && this.#timerAtMs <= atMs) return;
    clearTimeout(this.#timer);
    this.#timerAtMs = atMs;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAtMs = undefined;
        this.kick();
      },
      Math.max(0, atMs - Date.now()),
    );
  }

  /** Plans again after the recheck interval: for what no event reports (a failed call). */
  #retrySoon(): void {
    this.#armSooner(Date.now() + (this.#options.recheckMs ?? 1000));
  }

  /** Plans one update, writes its status, acts; returns when to plan again at the latest. */
  async #reconcile(
    update: OSUpdateResource,
    selected: readonly NodeResource[],
    others: readonly OtherUpdateView[],
    signal: AbortSignal,
  ): Promise<number | undefined> {
    const { store, consensus, operatorNode } = this.#options;
    const name = update.metadata.name;
    const memory = this.#memoryFor(update, signal);
    // Only an etcd member's step reads etcd's view (its health, the quorum it leaves): a rollout
    // of workers does not ask etcd on every pass.
    const members = selected.some((node) => isConsensusMember(node.spec.roles ?? []));
    const etcd = members ? await this.#etcdView(consensus) : undefined;
    const nodes: RolloutNodeView[] = selected.map((node) => ({
      name: node.metadata.name,
      specRoles: node.spec.roles ?? [],
      state: node.status.state ?? 'NEW',
      health: node.status.health ?? 'UNKNOWN',
      agent: this.#agent(node, etcd),
    }));
    const results = [...memory.stageResults];
    const plan = planRollout({
      update,
      nowMs: Date.now(),
      nodes,
      etcd,
      claims: nodeClaims({ name, createdAtMs: createdAtMs(update) }, others),
      staging: memory.staging,
      stageResults: results,
      rebootsRequested: memory.reboots,
      operatorNode,
    });
    if (JSON.stringify(plan.status) !== JSON.stringify(update.status)) {
      const written = await store.replaceStatus(update, plan.status);
      this.#options.metrics.statusWrites.inc({ trigger: 'rollout', result: written.kind });
      if (written.kind !== 'written') {
        // Planned on a stale copy: nothing happens until a plan on the current one is written.
        this.kick();
        return undefined;
      }
      this.#written.set(name, written.update.metadata.resourceVersion);
      this.#log.info('rollout status written', {
        update: name,
        phase: plan.status.phase,
        summary: plan.status.summary,
      });
    }
    memory.stageResults.splice(0, results.length);
    // Independent across nodes: at once, within a bound; the effects are started first.
    await boundedEach(plan.actions, this.#options.actionConcurrency ?? 16, (action) =>
      this.#act(update, plan.status.nodes ?? [], action, memory),
    );
    return Math.min(plan.nextCheckAtMs ?? Infinity, this.#etcdRecheckAtMs(nodes, etcd) ?? Infinity);
  }

  /**
   * etcd's view is read, not watched: while a selected consensus member is not a healthy voter
   * (or etcd could not be asked), the plan may wait on it, so it is read again shortly.
   */
  #etcdRecheckAtMs(
    nodes: readonly RolloutNodeView[],
    etcd: EtcdView | undefined,
  ): number | undefined {
    if (this.#options.consensus === undefined) return undefined;
    const members = nodes.filter((node) => node.specRoles.includes('ConsensusMember'));
    if (members.length === 0) return undefined;
    const settled =
      etcd !== undefined &&
      etcd.members.every((member) => member.healthy && member.voting) &&
      members.every((node) => etcd.members.some((member) => member.name === node.name));
    return settled ? undefined : Date.now() + (this.#options.recheckMs ?? 1000);
  }

  async #act(
    update: OSUpdateResource,
    entries: readonly OSUpdateNodeStatus[],
    action: RolloutAction,
    memory: UpdateMemory,
  ): Promise<void> {
    const { metrics, events } = this.#options;
    const timeoutMs = this.#options.callTimeoutMs ?? 10_000;
    const log = this.#log.child({ update: update.metadata.name });
    switch (action.kind) {
      case 'event': {
        const recorded = await events.record(
          {
            apiVersion: osUpdateApiVersion,
            kind: osUpdateKind,
            name: update.metadata.name,
            uid: update.metadata.uid,
          },
          {
            type: action.type,
            reason: action.reason,
            action: 'Rollout',
            note: action.node === undefined ? action.message : `${action.node}: ${action.message}`,
          },
        );
        metrics.events.inc({ reason: action.reason, result: recorded ? 'recorded' : 'failed' });
        return;
      }
      case 'stage': {
        const connection = this.#options.agents.connection(action.node);
        if (connection === undefined) {
          memory.stageResults.push({
            node: action.node,
            ok: false,
            message: 'the node has no address to reach its agent',
            transient: true,
          });
          this.#retrySoon();
          return;
        }
        memory.staging.add(action.node);
        const started = performance.now();
        let retry = false;
        log.info('staging', { node: action.node, version: update.spec.version });
        connection
          .stageUpdate(
            {
              url: update.spec.bundle.url,
              sha256: update.spec.bundle.sha256,
              expectedVersion: update.spec.version,
              allowDowngrade: update.spec.allowDowngrade,
            },
            memory.stages.signal,
          )
          .then(
            () => {
              metrics.updateActions.inc({ action: 'stage', result: 'ok' });
              metrics.updateStepSeconds.observe(
                { step: 'stage' },
                (performance.now() - started) / 1000,
              );
              memory.stageResults.push({ node: action.node, ok: true, message: '' });
            },
            (error: unknown) => {
              const transient = error instanceof NodeCallError && error.reason === 'unavailable';
              retry = transient;
              metrics.updateActions.inc({ action: 'stage', result: 'error' });
              log.warn('stage failed', {
                node: action.node,
                error: errorMessage(error),
                transient,
              });
              memory.stageResults.push({
                node: action.node,
                ok: false,
                message: error instanceof NodeCallError ? error.details : errorMessage(error),
                transient,
              });
            },
          )
          .finally(() => {
            memory.staging.delete(action.node);
            // Asked again by the next plan: not at once, or an unreachable agent spins.
            if (retry) this.#retrySoon();
            else this.kick();
          });
        return;
      }
      case 'reboot': {
        const connection = this.#options.agents.connection(action.node);
        if (connection === undefined) {
          this.#retrySoon();
          return;
        }
        memory.reboots.set(action.node, action.expectedBootTimeMs);
        try {
          await connection.setNextBoot(action.slot, timeoutMs);
          await connection.reboot(action.expectedBootTimeMs, timeoutMs);
          metrics.updateActions.inc({ action: 'reboot', result: 'ok' });
          log.info('node rebooting', { node: action.node, slot: action.slot });
        } catch (error) {
          // Not accepted: the next plan asks again (the boot-time guard keeps that safe).
          memory.reboots.delete(action.node);
          this.#retrySoon();
          metrics.updateActions.inc({ action: 'reboot', result: 'error' });
          log.warn('reboot not accepted', { node: action.node, error: errorMessage(error) });
        }
        return;
      }
      case 'commit': {
        const connection = this.#options.agents.connection(action.node);
        if (connection === undefined) {
          this.#retrySoon();
          return;
        }
        try {
          await connection.commitBoot(timeoutMs);
          memory.reboots.delete(action.node);
          metrics.updateActions.inc({ action: 'commit', result: 'ok' });
          const requested = entries.find((entry) => entry.node === action.node)?.rebootRequestedAt;
          if (requested !== undefined) {
            metrics.updateStepSeconds.observe(
              { step: 'reboot' },
              (Date.now() - Date.parse(requested)) / 1000,
            );
          }
          log.info('boot committed', { node: action.node });
        } catch (error) {
          metrics.updateActions.inc({ action: 'commit', result: 'error' });
          log.warn('commit failed', { node: action.node, error: errorMessage(error) });
          this.#retrySoon();
        }
        return;
      }
    }
  }

  /** What the node's agent reports now; undefined while its stream is not live. */
  #agent(node: NodeResource, etcd: EtcdView | undefined) {
    const name = node.metadata.name;
    const observed = this.#options.agents.agent(name)?.get();
    if (observed?.live !== true || observed.report === undefined) return undefined;
    return agentView(name, observed.report, node.spec.roles ?? [], etcd);
  }

  async #etcdView(consensus: ConsensusMembership | undefined): Promise<EtcdView | undefined> {
    if (consensus === undefined) return undefined;
    try {
      const members = await consensus.members();
      return {
        members: members.map((member) => ({
          name: member.name,
          voting: member.voting,
          healthy: member.healthy,
        })),
      };
    } catch (error) {
      this.#log.warn('etcd members unknown: no consensus member is rebooted', {
        error: errorMessage(error),
      });
      return undefined;
    }
  }

  #memoryFor(update: OSUpdateResource, signal: AbortSignal): UpdateMemory {
    const known = this.#memory.get(update.metadata.uid);
    if (known !== undefined) return known;
    const stages = new AbortController();
    signal.addEventListener(
      'abort',
      () => {
        stages.abort();
      },
      { once: true },
    );
    const memory: UpdateMemory = {
      staging: new Set(),
      stageResults: [],
      reboots: new Map(),
      stages,
    };
    this.#memory.set(update.metadata.uid, memory);
    return memory;
  }

  #forgetGone(present: ReadonlySet<string>): void {
    for (const [uid, memory] of this.#memory) {
      if (present.has(uid)) continue;
      memory.stages.abort();
      this.#memory.delete(uid);
    }
  }

  #updateGauge(updates: readonly OSUpdateResource[]): void {
    const gauge = this.#options.metrics.updateNodes;
    gauge.reset();
    for (const update of updates) {
      const counts = new Map<string, number>();
      for (const entry of update.status.nodes ?? []) {
        const phase = entry.phase ?? 'Pending';
        counts.set(phase, (counts.get(phase) ?? 0) + 1);
      }
      for (const [phase, count] of counts)
        gauge.set({ update: update.metadata.name, phase }, count);
    }
  }
}

/** Runs `work` on every item, at most `limit` at a time; resolves when all have. */
async function boundedEach<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  // One iterator shared by the workers: each takes the next item when it is free.
  const queue = items.values();
  const worker = async (): Promise<void> => {
    for (const item of queue) await work(item);
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
}

function createdAtMs(update: OSUpdateResource): number {
  const created = update.metadata.creationTimestamp;
  return created === undefined ? 0 : Date.parse(created);
}

function codeOf(error: unknown): string {
  return typeof error === 'object' &&
    error !== null &&
    'code' in error &&
    typeof error.code === 'string'
    ? error.code
    : 'UNEXPECTED';
}

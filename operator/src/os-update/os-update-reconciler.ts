// The OSUpdate engine around the pure planner: each pass reads every OSUpdate, the nodes each
// selects, their agents (GetStatus) and etcd's members; plans; writes the status conditioned on
// the version read; and only then acts (StageUpdate in the background, SetNextBoot + Reboot,
// CommitBoot, events). The status is the only memory that matters: a new leader resumes from it.
import { errorMessage } from '@metropolis/errors';
import type { Logger } from '@metropolis/logging';
import { sleep } from '@metropolis/supervisor';
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
import type { OperatorMetrics } from '../metrics/operator-metrics.js';
import type { NodeUpdateConnection, NodeUpdateDialer } from '../node-client/node-agent-client.js';
import type { NodeResource } from '../monogon-node/monogon-node-resource.js';
import type { OSUpdateResource } from './os-update-resource.js';
import { agentView } from './agent-view.js';
import type { EtcdView } from '../consensus/etcd-view.js';
import { nodeClaims, type OtherUpdateView } from './node-claims.js';
import { planRollout } from './plan/plan-rollout.js';
import type { RolloutAction, RolloutNodeView, StageResult } from './plan/rollout-types.js';

export interface OSUpdateReconcilerOptions {
  readonly store: OSUpdateStore;
  readonly events: EventSink;
  readonly dialer: NodeUpdateDialer;
  /** etcd's members for the quorum check; without it no consensus member is rebooted. */
  readonly consensus: ConsensusMembership | undefined;
  readonly metrics: OperatorMetrics;
  readonly logger: Logger;
  /** The node this operator runs on (its --identity): updated last in its tier. */
  readonly operatorNode: string | undefined;
  /** Pause between passes while an update is under way. @default 1000 */
  readonly activePollMs?: number;
  /** Pause between passes when nothing is under way. @default 5000 */
  readonly idlePollMs?: number;
  /** @default 10_000 */
  readonly callTimeoutMs?: number;
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
  readonly #connections = new Map<
    string,
    { readonly address: string; readonly connection: NodeUpdateConnection }
  >();
  readonly #reportedMalformed = new Set<string>();
  #wake: (() => void) | undefined;
  #kicked = false;

  constructor(options: OSUpdateReconcilerOptions) {
    this.#options = options;
    this.#log = options.logger;
  }

  /** Reconciles until `signal` aborts; then cancels stages and closes connections. */
  async run(signal: AbortSignal): Promise<void> {
    const { activePollMs = 1000, idlePollMs = 5000 } = this.#options;
    try {
      while (!signal.aborted) {
        let active = false;
        try {
          active = await this.#pass(signal);
        } catch (error) {
          this.#options.metrics.reconcileErrors.inc({ kind: osUpdateKind, code: codeOf(error) });
          this.#log.warn('rollout pass failed', { error: errorMessage(error) });
        }
        if (!this.#kicked) {
          await new Promise<void>((resolve) => {
            this.#wake = resolve;
            void sleep(active ? activePollMs : idlePollMs, signal).then(resolve);
          });
        }
        this.#kicked = false;
        this.#wake = undefined;
      }
    } finally {
      for (const memory of this.#memory.values()) memory.stages.abort();
      for (const { connection } of this.#connections.values()) connection.close();
      this.#connections.clear();
    }
  }

  /** Plans again soon (a watch event, a finished stage). */
  kick(): void {
    this.#kicked = true;
    this.#wake?.();
  }

  /** One pass over every OSUpdate; true while any is under way. */
  async #pass(signal: AbortSignal): Promise<boolean> {
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
    for (const update of ordered) {
      selected.set(update.metadata.name, await store.selectNodes(update.spec.nodeSelector));
    }
    const others: OtherUpdateView[] = ordered.map((update) => ({
      name: update.metadata.name,
      createdAtMs: createdAtMs(update),
      phase: update.status.phase,
      selectedNodes: (selected.get(update.metadata.name) ?? []).map((node) => node.metadata.name),
      entries: update.status.nodes ?? [],
    }));
    this.#forgetGone(new Set(ordered.map((update) => update.metadata.uid)));
    let active = false;
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
      await this.#reconcile(update, selected.get(update.metadata.name) ?? [], others, signal);
    }
    this.#updateGauge(ordered);
    return active;
  }

  async #reconcile(
    update: OSUpdateResource,
    selected: readonly NodeResource[],
    others: readonly OtherUpdateView[],
    signal: AbortSignal,
  ): Promise<void> {
    const { store, consensus, operatorNode } = this.#options;
    const name = update.metadata.name;
    const memory = this.#memoryFor(update, signal);
    const etcd = await this.#etcdView(consensus);
    const nodes: RolloutNodeView[] = await Promise.all(
      selected.map(async (node) => ({
        name: node.metadata.name,
        specRoles: node.spec.roles ?? [],
        state: node.status.state ?? 'NEW',
        health: node.status.health ?? 'UNKNOWN',
        agent: await this.#agent(node, etcd),
      })),
    );
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
        return;
      }
      this.#log.info('rollout status written', {
        update: name,
        phase: plan.status.phase,
        summary: plan.status.summary,
      });
    }
    memory.stageResults.splice(0, results.length);
    for (const action of plan.actions) {
      await this.#act(update, plan.status.nodes ?? [], action, memory);
    }
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
        const connection = this.#connections.get(action.node)?.connection;
        if (connection === undefined) {
          memory.stageResults.push({
            node: action.node,
            ok: false,
            message: 'the node has no address to reach its agent',
            transient: true,
          });
          return;
        }
        memory.staging.add(action.node);
        const started = performance.now();
        log.info('staging', { node: action.node, version: update.spec.version });
        connection
          .stageUpdate(
            {
              url: update.spec.bundle.url,
              sha256: update.spec.bundle.sha256,
              expectedVersion: update.spec.version,
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
            this.kick();
          });
        return;
      }
      case 'reboot': {
        const connection = this.#connections.get(action.node)?.connection;
        if (connection === undefined) return;
        memory.reboots.set(action.node, action.expectedBootTimeMs);
        try {
          await connection.setNextBoot(action.slot, timeoutMs);
          await connection.reboot(action.expectedBootTimeMs, timeoutMs);
          metrics.updateActions.inc({ action: 'reboot', result: 'ok' });
          log.info('node rebooting', { node: action.node, slot: action.slot });
        } catch (error) {
          // Not accepted: the next plan asks again (the boot-time guard keeps that safe).
          memory.reboots.delete(action.node);
          metrics.updateActions.inc({ action: 'reboot', result: 'error' });
          log.warn('reboot not accepted', { node: action.node, error: errorMessage(error) });
        }
        return;
      }
      case 'commit': {
        const connection = this.#connections.get(action.node)?.connection;
        if (connection === undefined) return;
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
        }
        return;
      }
    }
  }

  /** What the node's agent reports now; undefined when it cannot be asked. */
  async #agent(node: NodeResource, etcd: EtcdView | undefined) {
    const address = node.status.address ?? '';
    if (address === '') return undefined;
    const connection = this.#dial(node.metadata.name, address);
    try {
      const status = await connection.getStatus(3_000);
      return agentView(node.metadata.name, status, node.spec.roles ?? [], etcd);
    } catch {
      return undefined;
    }
  }

  #dial(node: string, address: string): NodeUpdateConnection {
    const known = this.#connections.get(node);
    if (known?.address === address) return known.connection;
    known?.connection.close();
    const connection = this.#options.dialer.dial(node, address);
    this.#connections.set(node, { address, connection });
    return connection;
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

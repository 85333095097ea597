// Test support for the planner's tests: a small fake cluster (nodes with A/B slots, BootNext,
// BootOrder and boot times) and an engine that drives it the way the real engine drives agents.
import type {
  MonogonNodeRole,
  OSUpdateNodeStatus,
  OSUpdateSlot,
  OSUpdateSpec,
  OSUpdateStatus,
  OSUpdateStrategy,
} from '@metropolis/api';
import { parseOSUpdate } from '../os-update-resource.js';
import type { EtcdView } from '../../consensus/etcd-view.js';
import { planRollout } from './plan-rollout.js';
import type {
  RolloutAction,
  RolloutInput,
  RolloutNodeView,
  RolloutPlan,
  StageResult,
} from './rollout-types.js';

export const t0 = Date.parse('2030-01-01T00:00:00Z');
export const second = 1000;
export const minute = 60 * second;

export const worker: MonogonNodeRole[] = ['KubernetesWorker'];
export const controller: MonogonNodeRole[] = ['ConsensusMember', 'KubernetesController'];

/** A node as its firmware and agent see it. */
interface FakeNode {
  readonly name: string;
  readonly roles: MonogonNodeRole[];
  slots: Record<OSUpdateSlot, string>;
  running: OSUpdateSlot;
  committed: OSUpdateSlot;
  next: OSUpdateSlot | undefined;
  bootTimeMs: number;
  /** The agent answers. */
  up: boolean;
  healthy: boolean;
  /** A Reboot was accepted and the node has not booted since. */
  goingDown: boolean;
  /** Versions whose trial boot does not last: the node falls back to its committed slot. */
  readonly badVersions: Set<string>;
  /** Real reboots, per node: the invariant "never twice for one step" counts these. */
  reboots: number;
}

/** A cluster of fake nodes, all on 0.1.0 in slot A, booted before t0. */
export class FakeCluster {
  readonly nodes = new Map<string, FakeNode>();

  constructor(specs: readonly [name: string, roles: MonogonNodeRole[]][]) {
    for (const [name, roles] of specs) {
      this.nodes.set(name, {
        name,
        roles,
        slots: { A: '0.1.0', B: '' },
        running: 'A',
        committed: 'A',
        next: undefined,
        bootTimeMs: t0 - 3_600_000,
        up: true,
        healthy: true,
        goingDown: false,
        badVersions: new Set(),
        reboots: 0,
      });
    }
  }

  node(name: string): FakeNode {
    const node = this.nodes.get(name);
    if (node === undefined) throw new Error(`no node ${name}`);
    return node;
  }

  view(name: string): RolloutNodeView {
    const node = this.node(name);
    return {
      name,
      specRoles: node.roles,
      state: 'UP',
      health: !node.up ? 'HEARTBEAT_TIMEOUT' : node.healthy ? 'HEALTHY' : 'UNHEALTHY',
      agent: node.up
        ? {
            version: node.slots[node.running],
            bootTimeMs: node.bootTimeMs,
            runningSlot: node.running,
            committedSlot: node.committed,
            nextSlot: node.next,
            trial: node.running !== node.committed,
            slots: { A: { version: node.slots.A }, B: { version: node.slots.B } },
            healthy: node.healthy,
            healthMessage: node.healthy ? '' : 'kube-apiserver: not running: exited (exit code 1)',
            rolesServing: node.healthy,
          }
        : undefined,
    };
  }

  views(): RolloutNodeView[] {
    return [...this.nodes.keys()].map((name) => this.view(name));
  }

  etcd(): EtcdView {
    return {
      members: [...this.nodes.values()]
        .filter((node) => node.roles.includes('ConsensusMember'))
        .map((node) => ({ name: node.name, voting: true, healthy: node.up && node.healthy })),
    };
  }

  /** The agent's Reboot with expected_boot_time_unix_ms: refused for another boot, once only. */
  reboot(
    name: string,
    slot: OSUpdateSlot,
    expectedBootTimeMs: number,
  ): 'started' | 'already' | 'refused' {
    const node = this.node(name);
    if (!node.up || node.bootTimeMs !== expectedBootTimeMs) return 'refused';
    if (node.goingDown) return 'already';
    node.next = slot;
    node.goingDown = true;
    node.reboots += 1;
    return 'started';
  }

  /** The node goes down (after it accepted a reboot). */
  down(name: string): void {
    this.node(name).up = false;
  }

  /** Firmware boots BootNext once (deleting it first), else the committed slot. */
  boot(name: string, atMs: number): void {
    const node = this.node(name);
    const slot = node.next ?? node.committed;
    node.next = undefined;
    node.running = node.badVersions.has(node.slots[slot]) ? node.committed : slot;
    node.bootTimeMs = atMs;
    node.up = true;
    node.goingDown = false;
  }

  commit(name: string): void {
    const node = this.node(name);
    node.committed = node.running;
  }
}

export const spec: OSUpdateSpec = {
  version: '0.2.0',
  bundle: { url: 'https://releases.example/0.2.0.bundle', sha256: 'a'.repeat(64) },
};

/** Plays the engine: plans, "writes" the status, performs the actions on the fake cluster. */
export class Engine {
  status: OSUpdateStatus | undefined;
  staging = new Set<string>();
  stageResults: StageResult[] = [];
  rebootsRequested = new Map<string, number>();
  claims = new Map<string, string>();
  etcdReadable = true;
  last: RolloutPlan | undefined;

  readonly cluster: FakeCluster;
  spec: OSUpdateSpec;
  readonly generation: number;

  constructor(cluster: FakeCluster, spec: OSUpdateSpec, generation = 1) {
    this.cluster = cluster;
    this.spec = spec;
    this.generation = generation;
  }

  /** A new operator process: the status survives, nothing in memory does. */
  restart(): Engine {
    const next = new Engine(this.cluster, this.spec, this.generation);
    next.status = this.status;
    next.claims = this.claims;
    return next;
  }

  input(nowMs: number): RolloutInput {
    // Through the operator's parser, as the engine will: the status written last must parse.
    const update = parseOSUpdate({
      metadata: { name: 'to-0.2.0', uid: 'u1', resourceVersion: '1', generation: this.generation },
      spec: this.spec,
      status: this.status ?? {},
    });
    return {
      update,
      nowMs,
      nodes: this.cluster.views(),
      etcd: this.etcdReadable ? this.cluster.etcd() : undefined,
      claims: this.claims,
      staging: this.staging,
      stageResults: this.stageResults,
      rebootsRequested: this.rebootsRequested,
    };
  }

  plan(nowMs: number): RolloutPlan {
    const plan = planRollout(this.input(nowMs));
    this.status = plan.status;
    this.stageResults = [];
    this.last = plan;
    for (const action of plan.actions) {
      switch (action.kind) {
        case 'stage':
          this.staging.add(action.node);
          break;
        case 'reboot':
          if (
            this.cluster.reboot(action.node, action.slot, action.expectedBootTimeMs) !== 'refused'
          ) {
            this.rebootsRequested.set(action.node, action.expectedBootTimeMs);
          }
          break;
        case 'commit':
          this.cluster.commit(action.node);
          break;
        case 'event':
          break;
      }
    }
    return plan;
  }

  /** A StageUpdate call ends: ok writes the inactive slot. */
  finishStage(
    name: string,
    result: { ok: boolean; message?: string; transient?: boolean } = { ok: true },
  ): void {
    this.staging.delete(name);
    const node = this.cluster.node(name);
    if (result.ok) node.slots[node.running === 'A' ? 'B' : 'A'] = this.spec.version;
    this.stageResults.push({
      node: name,
      ok: result.ok,
      message: result.message ?? '',
      ...(result.transient === true ? { transient: true } : {}),
    });
  }

  entry(name: string): OSUpdateNodeStatus {
    const entry = this.status?.nodes?.find((candidate) => candidate.node === name);
    if (entry === undefined) throw new Error(`no entry for ${name}`);
    return entry;
  }

  phases(): Record<string, string> {
    return Object.fromEntries(
      (this.status?.nodes ?? []).map((entry) => [entry.node, entry.phase ?? '?']),
    );
  }
}

export function kinds(
  actions: readonly RolloutAction[],
  kind: RolloutAction['kind'],
): RolloutAction[] {
  return actions.filter((action) => action.kind === kind);
}

export function nodesOf(
  actions: readonly RolloutAction[],
  kind: 'stage' | 'reboot' | 'commit',
): string[] {
  return actions.flatMap((action) => (action.kind === kind ? [action.node] : []));
}

export function condition(status: OSUpdateStatus | undefined, type: string) {
  return status?.conditions?.find((candidate) => candidate.type === type);
}

export function withStrategy(strategy: OSUpdateStrategy): OSUpdateSpec {
  return { ...spec, strategy };
}

/** Stages every selected node; returns the time after. */
export function stageAll(engine: Engine, at: number): number {
  const plan = engine.plan(at);
  for (const name of nodesOf(plan.actions, 'stage')) engine.finishStage(name);
  return at + second;
}

/** The node rebooted by the last plan goes down, boots and reports; returns the time after. */
export function rebootAndReturn(engine: Engine, name: string, at: number): number {
  engine.cluster.down(name);
  engine.plan(at);
  engine.cluster.boot(name, at + 30 * second);
  return at + 31 * second;
}

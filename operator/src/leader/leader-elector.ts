// Leader election through a coordination.k8s.io/v1 Lease (client-node 1.x), after client-go's
// leaderelection: acquire, renew every retry period, and give up (crash-only) when a renewal
// has not succeeded within the renew deadline or someone else holds the lease.
import {
  ApiException,
  V1MicroTime,
  type CoordinationV1Api,
  type V1Lease,
  type V1LeaseSpec,
} from '@kubernetes/client-node';
import { errorMessage } from '@metropolis/errors';
import type { Logger } from '@metropolis/logging';
import { sleep } from '@metropolis/supervisor';
import { OperatorError } from '../errors.js';
import {
  acquiredRecord,
  decideLease,
  recordKey,
  releasedRecord,
  type LeaseDecision,
  type LeaseRecord,
} from './lease-decision.js';

export interface LeaderElectorOptions {
  readonly api: CoordinationV1Api;
  readonly namespace: string;
  readonly name: string;
  /** Unique per instance, e.g. the node ID; written into spec.holderIdentity. */
  readonly identity: string;
  /** How long a lease holds without renewal. @default 15_000 (client-go) */
  readonly leaseDurationMs?: number;
  /** How long a leader keeps trying to renew before it gives up. @default 10_000 */
  readonly renewDeadlineMs?: number;
  /** Pause between attempts to acquire or renew. @default 2_000 */
  readonly retryPeriodMs?: number;
  readonly logger: Logger;
  /** Called with true when this instance starts leading, false when it stops. */
  readonly onLeadingChange?: (leading: boolean) => void;
}

/** The work a leader does; it must return soon after `signal` aborts. */
export type LeaderWork = (signal: AbortSignal) => Promise<void>;

export class LeaderElector {
  readonly #options: LeaderElectorOptions;
  readonly #leaseDurationMs: number;
  readonly #renewDeadlineMs: number;
  readonly #retryPeriodMs: number;
  readonly #log: Logger;
  /** The lease as last read or written, and when its current content was first seen. */
  #observed: { lease: V1Lease | undefined; key: string; atMs: number } = {
    lease: undefined,
    key: '',
    atMs: 0,
  };

  constructor(options: LeaderElectorOptions) {
    this.#options = options;
    this.#leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.#renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.#retryPeriodMs = options.retryPeriodMs ?? 2_000;
    this.#log = options.logger;
    if (!(
      this.#leaseDurationMs > this.#renewDeadlineMs && this.#renewDeadlineMs > this.#retryPeriodMs
    )) {
      throw new OperatorError(
        'OPERATOR_BAD_FLAG',
        'leader election needs lease duration > renew deadline > retry period',
      );
    }
  }

  /**
   * Waits to become leader, runs `work` while leading, and returns after `signal` aborts
   * (releasing the lease so a successor need not wait).
   * @throws {OperatorError} `OPERATOR_LEADERSHIP_LOST` when the lease is lost; anything `work`
   *   throws. Either way `work` has stopped: the caller should exit and be restarted.
   */
  async run(signal: AbortSignal, work: LeaderWork): Promise<void> {
    for (;;) {
      if (aborted(signal)) return;
      if (await this.#tryAcquireOrRenew(Date.now() + this.#renewDeadlineMs)) break;
      // Jitter, so instances that started together do not ask in lockstep.
      await sleep(this.#retryPeriodMs * (1 + Math.random() * 0.2), signal);
    }
    this.#log.info('leading', { lease: this.#leaseName, identity: this.#options.identity });
    this.#options.onLeadingChange?.(true);
    const term = new AbortController();
    let ended: { error: unknown } | undefined;
    const working = work(term.signal).then(
      () => {
        ended = { error: new Error('leader work returned while still leading') };
      },
      (error: unknown) => {
        ended = { error };
      },
    );
    let failure: unknown;
    try {
      failure = await this.#keepLeading(signal, working, () => ended);
    } finally {
      term.abort();
      await working;
      this.#options.onLeadingChange?.(false);
    }
    await this.#release();
    if (failure !== undefined) {
      throw failure instanceof Error ? failure : new Error(errorMessage(failure));
    }
  }

  get #leaseName(): string {
    return `${this.#options.namespace}/${this.#options.name}`;
  }

  /** Renews until the signal aborts (undefined) or leadership ends (the reason). */
  async #keepLeading(
    signal: AbortSignal,
    working: Promise<void>,
    ended: () => { error: unknown } | undefined,
  ): Promise<unknown> {
    let renewedAtMs = Date.now();
    for (;;) {
      await Promise.race([sleep(this.#retryPeriodMs, signal), working]);
      if (signal.aborted) return undefined;
      const stopped = ended();
      if (stopped !== undefined) return stopped.error;
      // A renewal must finish before the deadline, however slowly the API answers.
      const renewed = await this.#tryAcquireOrRenew(renewedAtMs + this.#renewDeadlineMs);
      if (renewed) {
        renewedAtMs = Date.now();
        continue;
      }
      const holder = this.#observed.lease?.spec?.holderIdentity ?? '';
      if (holder !== '' && holder !== this.#options.identity) {
        return new OperatorError(
          'OPERATOR_LEADERSHIP_LOST',
          `lease ${this.#leaseName} is held by ${holder} now`,
        );
      }
      if (Date.now() - renewedAtMs > this.#renewDeadlineMs) {
        return new OperatorError(
          'OPERATOR_LEADERSHIP_LOST',
          `lease ${this.#leaseName} not renewed within ${String(this.#renewDeadlineMs)} ms`,
        );
      }
    }
  }

  /** One attempt, given up at `deadlineMs`; true when this instance holds the lease after it. */
  async #tryAcquireOrRenew(deadlineMs: number): Promise<boolean> {
    const { api, namespace, name, identity } = this.#options;
    let lease: V1Lease | undefined;
    try {
      lease = await this.#bounded(api.readNamespacedLease({ name, namespace }), deadlineMs);
    } catch (error) {
      if (!(error instanceof ApiException && error.code === 404)) {
        this.#log.warn('lease read failed', { lease: this.#leaseName, error: errorMessage(error) });
        return false;
      }
    }
    const now = Date.now();
    const record = lease === undefined ? undefined : leaseRecord(lease.spec);
    this.#observe(lease, record, now);
    const decision = decideLease({
      lease: record,
      identity,
      nowMs: now,
      observedAtMs: this.#observed.atMs,
      leaseDurationMs: this.#leaseDurationMs,
    });
    if (decision.kind === 'wait') return false;
    const next = acquiredRecord(decision, record, identity, now, this.#leaseDurationMs);
    try {
      const written = await this.#bounded(this.#write(decision, lease, next), deadlineMs);
      this.#observe(written, leaseRecord(written.spec), Date.now());
      if (decision.kind === 'takeOver') {
        this.#log.info('lease taken over', {
          lease: this.#leaseName,
          from: decision.from,
          reason: decision.reason,
        });
      }
      return true;
    } catch (error) {
      // 409: someone else wrote first (create or resourceVersion conflict): read again later.
      const conflict = error instanceof ApiException && error.code === 409;
      this.#log[conflict ? 'debug' : 'warn']('lease write failed', {
        lease: this.#leaseName,
        decision: decision.kind,
        error: errorMessage(error),
      });
      return false;
    }
  }

  #write(
    decision: Exclude<LeaseDecision, { kind: 'wait' }>,
    lease: V1Lease | undefined,
    record: LeaseRecord,
  ): Promise<V1Lease> {
    const { api, namespace, name } = this.#options;
    if (decision.kind === 'create' || lease === undefined) {
      return api.createNamespacedLease({
        namespace,
        body: { metadata: { name, namespace }, spec: leaseSpec(record) },
      });
    }
    // metadata.resourceVersion makes the replace conditional on the lease we decided on.
    return api.replaceNamespacedLease({
      name,
      namespace,
      body: replacement(lease, leaseSpec(record)),
    });
  }

  /** Best effort: let a successor take over at once instead of after the lease duration. */
  async #release(): Promise<void> {
    const lease = this.#observed.lease;
    if (lease === undefined || lease.spec?.holderIdentity !== this.#options.identity) return;
    const { api, namespace, name } = this.#options;
    try {
      const released = releasedRecord(leaseRecord(lease.spec), Date.now());
      await this.#bounded(
        api.replaceNamespacedLease({
          name,
          namespace,
          body: replacement(lease, leaseSpec(released)),
        }),
        Date.now() + this.#renewDeadlineMs,
      );
      this.#log.info('lease released', { lease: this.#leaseName });
    } catch (error) {
      this.#log.warn('lease release failed', {
        lease: this.#leaseName,
        error: errorMessage(error),
      });
    }
  }

  #observe(lease: V1Lease | undefined, record: LeaseRecord | undefined, nowMs: number): void {
    const key = recordKey(record);
    if (key !== this.#observed.key || this.#observed.atMs === 0) {
      this.#observed = { lease, key, atMs: nowMs };
    } else {
      this.#observed = { ...this.#observed, lease };
    }
  }

  /** A request that has not answered by `deadlineMs` counts as failed. */
  #bounded<T>(request: Promise<T>, deadlineMs: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => {
          reject(new OperatorError('OPERATOR_KUBE_API', 'lease request timed out'));
        },
        Math.max(0, deadlineMs - Date.now()),
      );
    });
    return Promise.race([request, timeout]).finally(() => {
      clearTimeout(timer);
    });
  }
}

function leaseRecord(spec: V1LeaseSpec | undefined): LeaseRecord {
  return {
    holderIdentity: spec?.holderIdentity,
    leaseDurationSeconds: spec?.leaseDurationSeconds,
    acquireTimeMs: timeMs(spec?.acquireTime),
    renewTimeMs: timeMs(spec?.renewTime),
    leaseTransitions: spec?.leaseTransitions ?? 0,
  };
}

function leaseSpec(record: LeaseRecord): V1LeaseSpec {
  const spec: V1LeaseSpec = { leaseTransitions: record.leaseTransitions };
  if (record.holderIdentity !== undefined) spec.holderIdentity = record.holderIdentity;
  if (record.leaseDurationSeconds !== undefined) {
    spec.leaseDurationSeconds = record.leaseDurationSeconds;
  }
  if (record.acquireTimeMs !== undefined) spec.acquireTime = new V1MicroTime(record.acquireTimeMs);
  if (record.renewTimeMs !== undefined) spec.renewTime = new V1MicroTime(record.renewTimeMs);
  return spec;
}

/** client-node 1.x types MicroTime as a Date but hands the wire string through unparsed. */
function timeMs(value: Date | string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

// A function, so the compiler does not assume the flag is unchanged across awaits.
function aborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

/** The lease with a new spec; its metadata.resourceVersion makes the replace conditional. */
function replacement(lease: V1Lease, spec: V1LeaseSpec): V1Lease {
  const body: V1Lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', spec };
  if (lease.metadata !== undefined) body.metadata = lease.metadata;
  return body;
}

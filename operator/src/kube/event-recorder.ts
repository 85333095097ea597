// Kubernetes Events (events.k8s.io/v1) about MonogonNodes, so `kubectl describe monogonnode`
// and `kubectl get events` show what the operator did and saw. Best effort: an event that
// cannot be written is logged, never retried, and never fails a reconcile.
import { randomBytes } from 'node:crypto';
import { EventsV1Api, V1MicroTime, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '@metropolis/logging';
import { kubeError } from './kube-error.js';

/** One event to record about a node (events.k8s.io/v1 fields). */
export interface NodeEvent {
  readonly type: 'Normal' | 'Warning';
  /** CamelCase, why the event happened. */
  readonly reason: string;
  /** CamelCase, what the operator did or saw. */
  readonly action: string;
  readonly note: string;
}

/** The object an event is about. */
export interface EventSubject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
}

/** Records events; tests may substitute their own. */
export interface EventSink {
  /** Resolves true when recorded, false when it failed (never rejects). */
  record(subject: EventSubject, event: NodeEvent): Promise<boolean>;
}

export interface EventRecorderOptions {
  readonly kubeConfig: KubeConfig;
  /** Events of cluster-scoped objects go to `default`, as the kubelet's Node events do. */
  readonly namespace: string;
  /** events.k8s.io reportingController, e.g. metropolis.monogon.dev/operator. */
  readonly controller: string;
  /** events.k8s.io reportingInstance: this operator instance. */
  readonly instance: string;
  readonly logger: Logger;
}

export class EventRecorder implements EventSink {
  readonly #api: EventsV1Api;
  readonly #options: EventRecorderOptions;

  constructor(options: EventRecorderOptions) {
    this.#api = options.kubeConfig.makeApiClient(EventsV1Api);
    this.#options = options;
  }

  async record(subject: EventSubject, event: NodeEvent): Promise<boolean> {
    const { namespace, controller, instance, logger } = this.#options;
    const now = Date.now();
    try {
      await this.#api.createNamespacedEvent({
        namespace,
        body: {
          // As client-go names events: object name, then a unique hex suffix.
          metadata: {
            name: `${subject.name}.${now.toString(16)}${randomBytes(2).toString('hex')}`,
            namespace,
          },
          eventTime: new V1MicroTime(now),
          type: event.type,
          reason: event.reason,
          action: event.action,
          note: event.note.slice(0, 1024),
          regarding: {
            apiVersion: subject.apiVersion,
            kind: subject.kind,
            name: subject.name,
            uid: subject.uid,
          },
          reportingController: controller,
          reportingInstance: instance,
        },
      });
      logger.info('event recorded', { node: subject.name, reason: event.reason, type: event.type });
      return true;
    } catch (error) {
      logger.warn('event not recorded', {
        node: subject.name,
        reason: event.reason,
        error: kubeError('record an event', error).message,
      });
      return false;
    }
  }
}

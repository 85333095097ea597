// The watch adapter around @dot-i/k8s-operator (CommonJS, on its own client-node 0.20): one
// thing, a resource watch whose events arrive parsed into our types. The framework cannot stop
// a watch without exiting the process, so it runs in a worker thread (k8s-operator-worker.ts):
// stopping terminates the thread, and its process.exit(1) on a watch error ends only the
// thread, which this adapter reports as the watch's failure.
import { Worker } from 'node:worker_threads';
import { operatorWatchWorkerFile } from '@metropolis/api';
import { errorMessage } from '@metropolis/errors';
import type { Logger } from '@metropolis/logging';
import { OperatorError } from '../errors.js';
import {
  watchWorkerRole,
  workerMessage,
  type ParentMessage,
  type WatchedResource,
  type WatchWorkerData,
  type WorkerHeap,
} from './watch-protocol.js';

export type { WatchedResource } from './watch-protocol.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One watch event, its object parsed at this edge. */
export interface WatchEvent<T> {
  readonly type: WatchEventType;
  readonly object: T;
}

/** A watch on resources; what reconcilers depend on instead of the framework. */
export interface ResourceWatcher {
  /**
   * Starts watching `resource`. Every object is passed through `parse`; one that does not
   * parse is logged and skipped. Events arrive one at a time; the next waits for `onEvent`.
   */
  watch<T>(
    resource: WatchedResource,
    parse: (raw: unknown) => T,
    onEvent: (event: WatchEvent<T>) => Promise<void>,
  ): Promise<void>;
  /**
   * Rejects when a watch fails (the API server gone, a CRD deleted): the caller should exit
   * and be restarted (crash-only). Never resolves.
   */
  failed(): Promise<never>;
  /** Stops every watch; no event is delivered afterwards. */
  stop(): void;
}

export interface K8sOperatorOptions {
  /** The kubeconfig as text (YAML or JSON), e.g. client-node 1.x `KubeConfig.exportConfig()`. */
  readonly kubeconfig: string;
  readonly logger: Logger;
}

interface Watch {
  readonly resource: WatchedResource;
  readonly started: () => void;
  readonly onEvent: (type: string, object: unknown) => Promise<void>;
}

/** How long a heap statistics request waits for the worker (a scrape must not hang). */
const heapAnswerMs = 1_000;

/** A {@link ResourceWatcher} on @dot-i/k8s-operator, in a worker thread. */
export class K8sOperatorWatcher implements ResourceWatcher {
  readonly #kubeconfig: string;
  readonly #log: Logger;
  readonly #watches = new Map<number, Watch>();
  readonly #heapRequests = new Map<number, (heap: WorkerHeap) => void>();
  #nextHeapRequest = 0;
  #worker: Worker | undefined;
  #stopped = false;
  readonly #failed: Promise<never>;
  #fail: (error: OperatorError) => void = () => undefined;

  constructor(options: K8sOperatorOptions) {
    this.#kubeconfig = options.kubeconfig;
    this.#log = options.logger;
    this.#failed = new Promise<never>((_resolve, reject) => {
      this.#fail = reject;
    });
    // Observed, so a failure nobody awaits yet is not an unhandled rejection.
    this.#failed.catch(() => undefined);
  }

  watch<T>(
    resource: WatchedResource,
    parse: (raw: unknown) => T,
    onEvent: (event: WatchEvent<T>) => Promise<void>,
  ): Promise<void> {
    const worker = this.#start();
    const id = this.#watches.size;
    const started = new Promise<void>((resolve, reject) => {
      this.#failed.catch(reject);
      this.#watches.set(id, {
        resource,
        started: resolve,
        onEvent: async (type, raw) => {
          if (this.#stopped) return;
          let object: T;
          try {
            object = parse(raw);
          } catch (error) {
            this.#log.warn('watch event skipped: malformed object', {
              resource: resource.plural,
              error: errorMessage(error),
            });
            return;
          }
          try {
            await onEvent({ type: eventType(type), object });
          } catch (error) {
            this.#log.error('watch event handler failed', {
              resource: resource.plural,
              error: errorMessage(error),
            });
          }
        },
      });
    });
    const { group, version, plural } = resource;
    const message: ParentMessage = { kind: 'watch', watch: id, group, version, plural };
    worker.postMessage(message);
    return started;
  }

  failed(): Promise<never> {
    return this.#failed;
  }

  /**
   * The worker thread's V8 heap (for metrics: process.memoryUsage() sees only the main
   * thread's); undefined before the first watch, after stop, or without an answer in 1 s.
   */
  async heapStatistics(): Promise<WorkerHeap | undefined> {
    const worker = this.#worker;
    if (worker === undefined || this.#stopped) return undefined;
    const request = this.#nextHeapRequest++;
    const answer = new Promise<WorkerHeap>((resolve) => {
      this.#heapRequests.set(request, resolve);
    });
    const message: ParentMessage = { kind: 'heap', request };
    worker.postMessage(message);
    const timeout = new Promise<undefined>((resolve) => {
      setTimeout(() => {
        resolve(undefined);
      }, heapAnswerMs).unref();
    });
    try {
      return await Promise.race([answer, timeout]);
    } finally {
      this.#heapRequests.delete(request);
    }
  }

  stop(): void {
    this.#stopped = true;
    void this.#worker?.terminate();
  }

  #start(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const log = this.#log.child({ framework: '@dot-i/k8s-operator' });
    // From source: the worker's JavaScript beside this file; bundled (operator.mjs): the
    // worker's own bundle beside that.
    const source = import.meta.url.endsWith('.ts');
    const data: WatchWorkerData = { role: watchWorkerRole, kubeconfig: this.#kubeconfig };
    const entry = new URL(
      source ? './k8s-operator-worker.js' : `./${operatorWatchWorkerFile}`,
      import.meta.url,
    );
    // No loader flags (tsx): the worker is plain JavaScript.
    const worker = new Worker(entry, { execArgv: [], workerData: data });
    worker.on('message', (data: unknown) => {
      const message = workerMessage(data);
      switch (message?.kind) {
        case 'log':
          // The framework logs free text; keep our messages constant and put its text in a field.
          log[message.level]('framework', { text: message.text });
          return;
        case 'watching':
          this.#watches.get(message.watch)?.started();
          return;
        case 'heap':
          this.#heapRequests.get(message.request)?.(message.heap);
          return;
        case 'event': {
          const watch = this.#watches.get(message.watch);
          void (watch?.onEvent(message.type, message.object) ?? Promise.resolve()).then(() => {
            const handled: ParentMessage = { kind: 'handled', event: message.event };
            if (!this.#stopped) worker.postMessage(handled);
          });
          return;
        }
        case undefined:
          log.error('unexpected message from the watch worker');
          return;
      }
    });
    worker.on('error', (error) => {
      this.#failWith(`the watch worker failed: ${errorMessage(error)}`, error);
    });
    worker.on('exit', (code) => {
      this.#failWith(`the watch ended (the framework exited with code ${String(code)})`);
    });
    this.#worker = worker;
    return worker;
  }

  #failWith(message: string, cause?: unknown): void {
    if (this.#stopped) return;
    this.#stopped = true;
    const resources = [...this.#watches.values()].map((watch) => watch.resource.plural);
    this.#log.error('watch failed', { resources, error: message });
    this.#fail(new OperatorError('OPERATOR_WATCH', message, { cause }));
  }
}

function eventType(type: string): WatchEventType {
  switch (type) {
    case 'ADDED':
    case 'MODIFIED':
    case 'DELETED':
      return type;
    default:
      // BOOKMARK and ERROR never reach here: the framework fails on them before.
      return 'MODIFIED';
  }
}

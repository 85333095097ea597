// The only importer of @dot-i/k8s-operator (CommonJS, on its own client-node 0.20). It offers
// one thing, a resource watch whose events arrive parsed into our types; its kubeConfig and
// k8sApi never leave this file. Its watch calls process.exit(1) on any error: crash-only.
import operatorModule, { type ResourceEvent } from '@dot-i/k8s-operator';
import { errorMessage } from '@metropolis/errors';
import type { Logger } from '@metropolis/logging';

// The default import of a CommonJS module is module.exports; the class is its `default`.
const FrameworkOperator = operatorModule.default;

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One watch event, its object parsed at this edge. */
export interface WatchEvent<T> {
  readonly type: WatchEventType;
  readonly object: T;
}

/** The API coordinates of a watched resource. */
export interface WatchedResource {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
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
  /** Stops every watch; no event is delivered afterwards. */
  stop(): void;
}

export interface K8sOperatorOptions {
  /** The kubeconfig as text (YAML or JSON), e.g. client-node 1.x `KubeConfig.exportConfig()`. */
  readonly kubeconfig: string;
  readonly logger: Logger;
}

/** A {@link ResourceWatcher} on @dot-i/k8s-operator. */
export class K8sOperatorWatcher implements ResourceWatcher {
  readonly #framework: FrameworkAdapter;
  readonly #log: Logger;
  #stopped = false;

  constructor(options: K8sOperatorOptions) {
    this.#log = options.logger;
    this.#framework = new FrameworkAdapter(options.kubeconfig, options.logger);
  }

  async watch<T>(
    resource: WatchedResource,
    parse: (raw: unknown) => T,
    onEvent: (event: WatchEvent<T>) => Promise<void>,
  ): Promise<void> {
    await this.#framework.watch(resource, async (event) => {
      if (this.#stopped) return;
      let object: T;
      try {
        object = parse(event.object);
      } catch (error) {
        this.#log.warn('watch event skipped: malformed object', {
          resource: resource.plural,
          name: event.meta.name,
          error: errorMessage(error),
        });
        return;
      }
      try {
        await onEvent({ type: eventType(event.type), object });
      } catch (error) {
        // The framework's queue drops rejections silently; say so here.
        this.#log.error('watch event handler failed', {
          resource: resource.plural,
          name: event.meta.name,
          error: errorMessage(error),
        });
      }
    });
  }

  stop(): void {
    this.#stopped = true;
    this.#framework.halt();
  }
}

class FrameworkAdapter extends FrameworkOperator {
  constructor(kubeconfig: string, logger: Logger) {
    const log = logger.child({ framework: '@dot-i/k8s-operator' });
    // The framework logs free text; keep our messages constant and put its text in a field.
    super({
      debug: (text) => {
        log.debug('framework', { text });
      },
      info: (text) => {
        log.info('framework', { text });
      },
      warn: (text) => {
        log.warn('framework', { text });
      },
      error: (text) => {
        log.error('framework', { text });
      },
    });
    // Its constructor loaded the *default* kubeconfig; use the one main.ts chose instead.
    this.kubeConfig.loadFromString(kubeconfig);
    this.k8sApi.basePath = this.kubeConfig.getCurrentCluster()?.server ?? '';
  }

  protected init(): Promise<void> {
    return Promise.resolve();
  }

  watch(
    resource: WatchedResource,
    onEvent: (event: ResourceEvent) => Promise<void>,
  ): Promise<void> {
    return this.watchResource(resource.group, resource.version, resource.plural, onEvent);
  }

  /**
   * The framework's stop() aborts its watch requests, and the aborted response emits an error
   * that its watch turns into process.exit(1); a clean close makes it open a new watch 200 ms
   * later. So: park that restart (its request never starts and holds no connection), then
   * abort each request ourselves with its error listener replaced. The requests are the
   * framework's private `watchRequests`, read by name since its types hide them.
   */
  halt(): void {
    this.kubeConfig.applyToRequest = () => new Promise<void>(() => undefined);
    const requests: unknown = Reflect.get(this, 'watchRequests');
    if (typeof requests !== 'object' || requests === null) return;
    for (const request of Object.values(requests)) {
      if (!isAbortable(request)) continue;
      request.removeAllListeners('error');
      request.on('error', () => undefined);
      request.abort();
    }
  }
}

/** The parts of a `request` library Request that halt() uses. */
interface Abortable {
  abort(): void;
  removeAllListeners(event: string): unknown;
  on(event: string, listener: () => void): unknown;
}

function isAbortable(value: unknown): value is Abortable {
  return (
    typeof value === 'object' &&
    value !== null &&
    'abort' in value &&
    typeof value.abort === 'function' &&
    'removeAllListeners' in value &&
    typeof value.removeAllListeners === 'function' &&
    'on' in value &&
    typeof value.on === 'function'
  );
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

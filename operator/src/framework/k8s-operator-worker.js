// The watch framework's worker thread, started by k8s-operator.ts: @dot-i/k8s-operator's
// Operator through its public and protected API only (kubeConfig, k8sApi, init, watchResource),
// watching what the adapter asks for; its process.exit(1) on a watch error ends this thread.
// Plain JavaScript (types in JSDoc): run from source, the thread needs no TypeScript loader
// (worker threads do not inherit tsx's); in an image it is bundled alone (operator-watch.mjs).
import { getHeapStatistics } from 'node:v8';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import operatorModule from '@dot-i/k8s-operator';

/** @typedef {import('./watch-protocol.js').WorkerMessage} WorkerMessage */
/** @typedef {import('./watch-protocol.js').ParentMessage} ParentMessage */
/** @typedef {import('@dot-i/k8s-operator').ResourceEvent} ResourceEvent */

// The default import of a CommonJS module is module.exports; the class is its `default`.
const FrameworkOperator = operatorModule.default;

/** The framework's Operator, configured with our kubeconfig. */
class FrameworkWatcher extends FrameworkOperator {
  /**
   * @param {string} kubeconfig
   * @param {(message: WorkerMessage) => void} post
   */
  constructor(kubeconfig, post) {
    /** @param {'debug' | 'info' | 'warn' | 'error'} level */
    const log = (level) => (/** @type {string} */ text) => {
      post({ kind: 'log', level, text });
    };
    super({ debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') });
    // Its constructor loaded the *default* kubeconfig; use the one the operator chose instead.
    this.kubeConfig.loadFromString(kubeconfig);
    this.k8sApi.basePath = this.kubeConfig.getCurrentCluster()?.server ?? '';
  }

  /** @returns {Promise<void>} */
  init() {
    return Promise.resolve();
  }

  /**
   * @param {import('./watch-protocol.js').WatchedResource} resource
   * @param {(event: ResourceEvent) => Promise<void>} onEvent
   * @returns {Promise<void>}
   */
  watch(resource, onEvent) {
    return this.watchResource(resource.group, resource.version, resource.plural, onEvent);
  }
}

/**
 * `data` as a message of the adapter; undefined for anything else.
 * @param {unknown} data
 * @returns {ParentMessage | undefined}
 */
function parentMessage(data) {
  if (typeof data !== 'object' || data === null || !('kind' in data)) return undefined;
  if (data.kind === 'handled' && 'event' in data && typeof data.event === 'number') {
    return { kind: 'handled', event: data.event };
  }
  if (data.kind === 'heap' && 'request' in data && typeof data.request === 'number') {
    return { kind: 'heap', request: data.request };
  }
  if (
    data.kind === 'watch' &&
    'watch' in data &&
    typeof data.watch === 'number' &&
    'group' in data &&
    typeof data.group === 'string' &&
    'version' in data &&
    typeof data.version === 'string' &&
    'plural' in data &&
    typeof data.plural === 'string'
  ) {
    const { watch, group, version, plural } = data;
    return { kind: 'watch', watch, group, version, plural };
  }
  return undefined;
}

/**
 * Watches what the adapter asks for and posts each event; the framework delivers the next
 * only once the adapter has handled it.
 * @param {import('node:worker_threads').MessagePort} port
 * @param {string} kubeconfig
 */
function serveWatches(port, kubeconfig) {
  /** @param {WorkerMessage} message */
  const post = (message) => {
    port.postMessage(message);
  };
  const framework = new FrameworkWatcher(kubeconfig, post);
  /** @type {Map<number, () => void>} */
  const handled = new Map();
  let next = 0;
  port.on('message', (/** @type {unknown} */ data) => {
    const message = parentMessage(data);
    if (message === undefined) return;
    if (message.kind === 'handled') {
      handled.get(message.event)?.();
      handled.delete(message.event);
      return;
    }
    if (message.kind === 'heap') {
      const heap = getHeapStatistics();
      post({
        kind: 'heap',
        request: message.request,
        heap: {
          totalBytes: heap.total_heap_size,
          usedBytes: heap.used_heap_size,
          externalBytes: heap.external_memory,
          mallocedBytes: heap.malloced_memory,
        },
      });
      return;
    }
    const { watch } = message;
    void framework
      .watch(
        message,
        (event) =>
          new Promise((resolve) => {
            const id = next++;
            handled.set(id, () => {
              resolve(undefined);
            });
            post({ kind: 'event', watch, event: id, type: event.type, object: event.object });
          }),
      )
      .then(() => {
        post({ kind: 'watching', watch });
      });
  });
}

const data = /** @type {unknown} */ (workerData);
if (
  !isMainThread &&
  parentPort !== null &&
  typeof data === 'object' &&
  data !== null &&
  'kubeconfig' in data &&
  typeof data.kubeconfig === 'string'
) {
  serveWatches(parentPort, data.kubeconfig);
}

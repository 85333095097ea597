// The watch framework's worker thread (started by k8s-operator.ts): @dot-i/k8s-operator's
// Operator, used through its public and protected API only (kubeConfig, k8sApi, init,
// watchResource), watching what the adapter asks for. Its process.exit(1) on a watch error ends
// this thread alone. Bundled apart from the operator, so the thread loads only the framework.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import operatorModule, { type ResourceEvent } from '@dot-i/k8s-operator';
import {
  isWatchWorkerData,
  parentMessage,
  type WatchedResource,
  type WorkerMessage,
} from './watch-protocol.js';

// The default import of a CommonJS module is module.exports; the class is its `default`.
const FrameworkOperator = operatorModule.default;

/** The framework's Operator, configured with our kubeconfig, watching what it is asked to. */
class FrameworkWatcher extends FrameworkOperator {
  constructor(kubeconfig: string, post: (message: WorkerMessage) => void) {
    const log =
      (level: 'debug' | 'info' | 'warn' | 'error') =>
      (text: string): void => {
        post({ kind: 'log', level, text });
      };
    super({ debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') });
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
}

/**
 * The worker's side: watches what the parent asks for and posts each event, and lets the
 * framework deliver the next only once the parent has handled it.
 */
function serveWatches(kubeconfig: string): void {
  const port = parentPort;
  if (port === null) return;
  const post = (message: WorkerMessage): void => {
    port.postMessage(message);
  };
  const framework = new FrameworkWatcher(kubeconfig, post);
  const handled = new Map<number, () => void>();
  let next = 0;
  port.on('message', (data: unknown) => {
    const message = parentMessage(data);
    if (message === undefined) return;
    if (message.kind === 'handled') {
      handled.get(message.event)?.();
      handled.delete(message.event);
      return;
    }
    const { watch } = message;
    void framework
      .watch(
        message,
        (event) =>
          new Promise<void>((resolve) => {
            const id = next++;
            handled.set(id, resolve);
            post({ kind: 'event', watch, event: id, type: event.type, object: event.object });
          }),
      )
      .then(() => {
        post({ kind: 'watching', watch });
      });
  });
}

if (!isMainThread && isWatchWorkerData(workerData)) serveWatches(workerData.kubeconfig);

// What the watch adapter (k8s-operator.ts) and the framework's worker thread
// (k8s-operator-worker.js) say to each other, checked on arrival: neither trusts the other's
// messages to have a shape.

/** The API coordinates of a watched resource. */
export interface WatchedResource {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
}

/** What the worker is started with. */
export interface WatchWorkerData {
  readonly role: typeof watchWorkerRole;
  readonly kubeconfig: string;
}

export const watchWorkerRole = 'metropolis-k8s-operator-watch';

/** The worker's V8 heap (`v8.getHeapStatistics()` there), in bytes. */
export interface WorkerHeap {
  /** Heap committed by V8. */
  readonly totalBytes: number;
  readonly usedBytes: number;
  /** Memory outside the heap that JS objects hold (buffers). */
  readonly externalBytes: number;
  /** What V8 itself malloc'd (compiler zones, tables). */
  readonly mallocedBytes: number;
}

/** Messages from the worker. */
export type WorkerMessage =
  | {
      readonly kind: 'log';
      readonly level: 'debug' | 'info' | 'warn' | 'error';
      readonly text: string;
    }
  | { readonly kind: 'watching'; readonly watch: number }
  | { readonly kind: 'heap'; readonly request: number; readonly heap: WorkerHeap }
  | {
      readonly kind: 'event';
      readonly watch: number;
      readonly event: number;
      readonly type: string;
      readonly object: unknown;
    };

/** Messages to the worker. */
export type ParentMessage =
  | ({ readonly kind: 'watch'; readonly watch: number } & WatchedResource)
  | { readonly kind: 'handled'; readonly event: number }
  | { readonly kind: 'heap'; readonly request: number };

/** `data` as a message of the worker; undefined for anything else. */
export function workerMessage(data: unknown): WorkerMessage | undefined {
  if (typeof data !== 'object' || data === null || !('kind' in data)) return undefined;
  if (data.kind === 'log' && 'level' in data && 'text' in data && typeof data.text === 'string') {
    const level = data.level;
    return level === 'debug' || level === 'info' || level === 'warn' || level === 'error'
      ? { kind: 'log', level, text: data.text }
      : undefined;
  }
  if (data.kind === 'heap' && 'request' in data && typeof data.request === 'number') {
    const heap = 'heap' in data ? workerHeap(data.heap) : undefined;
    return heap === undefined ? undefined : { kind: 'heap', request: data.request, heap };
  }
  if (!('watch' in data) || typeof data.watch !== 'number') return undefined;
  if (data.kind === 'watching') return { kind: 'watching', watch: data.watch };
  if (
    data.kind === 'event' &&
    'event' in data &&
    typeof data.event === 'number' &&
    'type' in data &&
    typeof data.type === 'string' &&
    'object' in data
  ) {
    return {
      kind: 'event',
      watch: data.watch,
      event: data.event,
      type: data.type,
      object: data.object,
    };
  }
  return undefined;
}

function workerHeap(data: unknown): WorkerHeap | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const number = (key: string): number | undefined => {
    const value: unknown = key in data ? Reflect.get(data, key) : undefined;
    return typeof value === 'number' ? value : undefined;
  };
  const totalBytes = number('totalBytes');
  const usedBytes = number('usedBytes');
  const externalBytes = number('externalBytes');
  const mallocedBytes = number('mallocedBytes');
  if (
    totalBytes === undefined ||
    usedBytes === undefined ||
    externalBytes === undefined ||
    mallocedBytes === undefined
  ) {
    return undefined;
  }
  return { totalBytes, usedBytes, externalBytes, mallocedBytes };
}

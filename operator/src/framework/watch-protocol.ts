// What the watch adapter (k8s-operator.ts) and the framework's worker thread
// (k8s-operator-worker.ts) say to each other, checked on arrival: neither trusts the other's
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
  /** The worker module: k8s-operator-worker.ts from source, or its bundle. */
  readonly entry: string;
  /** tsx's loader, when `entry` is TypeScript. */
  readonly loader?: string;
}

export const watchWorkerRole = 'metropolis-k8s-operator-watch';

/** Messages from the worker. */
export type WorkerMessage =
  | {
      readonly kind: 'log';
      readonly level: 'debug' | 'info' | 'warn' | 'error';
      readonly text: string;
    }
  | { readonly kind: 'watching'; readonly watch: number }
  | {
      readonly kind: 'event';
      readonly watch: number;
      readonly event: number;
      readonly type: string;
      readonly object: unknown;
    };

export function isWatchWorkerData(data: unknown): data is WatchWorkerData {
  return (
    typeof data === 'object' &&
    data !== null &&
    'role' in data &&
    data.role === watchWorkerRole &&
    'kubeconfig' in data &&
    typeof data.kubeconfig === 'string'
  );
}

/** Messages to the worker. */
export type ParentMessage =
  | ({ readonly kind: 'watch'; readonly watch: number } & WatchedResource)
  | { readonly kind: 'handled'; readonly event: number };

/** `data` as a message of the adapter; undefined for anything else. */
export function parentMessage(data: unknown): ParentMessage | undefined {
  if (typeof data !== 'object' || data === null || !('kind' in data)) return undefined;
  if (data.kind === 'handled' && 'event' in data && typeof data.event === 'number') {
    return { kind: 'handled', event: data.event };
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

/** `data` as a message of the worker; undefined for anything else. */
export function workerMessage(data: unknown): WorkerMessage | undefined {
  if (typeof data !== 'object' || data === null || !('kind' in data)) return undefined;
  if (data.kind === 'log' && 'level' in data && 'text' in data && typeof data.text === 'string') {
    const level = data.level;
    return level === 'debug' || level === 'info' || level === 'warn' || level === 'error'
      ? { kind: 'log', level, text: data.text }
      : undefined;
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

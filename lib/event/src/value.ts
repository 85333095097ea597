// A watchable value (after Monogon's event.MemoryValue): the producer sets the latest state,
// watchers see the current value first and then the latest one after each change. Watchers
// coalesce: a slow one may skip intermediate values but always ends at the latest.

export interface ValueOptions<T> {
  /**
   * When `set` counts as no change (no watcher wakes) and when a watcher skips a value equal to
   * the one it saw last. @default Object.is
   */
  readonly equals?: (a: T, b: T) => boolean;
}

/**
 * A value that can be watched. Unlike Monogon's, setting an equal value wakes nobody: producers
 * that re-publish their state on every probe would otherwise wake every watcher each period
 * for nothing. Give `equals` for structured values; a producer that must wake watchers without
 * a new state publishes a revision number.
 */
export class Value<T> {
  #value: T;
  readonly #equals: (a: T, b: T) => boolean;
  /** Resolved and replaced on every change; watchers wait on it. */
  #changed = deferred();

  constructor(initial: T, options: ValueOptions<T> = {}) {
    this.#value = initial;
    this.#equals = options.equals ?? Object.is;
  }

  get(): T {
    return this.#value;
  }

  /** Publishes `value`; watchers wake unless it equals the current one. */
  set(value: T): void {
    if (this.#equals(this.#value, value)) return;
    this.#value = value;
    const changed = this.#changed;
    this.#changed = deferred();
    changed.resolve();
  }

  /**
   * The current value, then the latest value after each change, never the same value twice in a
   * row; ends when `signal` aborts.
   */
  async *watch(signal: AbortSignal): AsyncGenerator<T, void, undefined> {
    let last = this.#value;
    let first = true;
    while (!signal.aborted) {
      const current = this.#value;
      if (first || !this.#equals(last, current)) {
        first = false;
        last = current;
        yield current;
        continue;
      }
      await untilResolvedOrAborted(this.#changed.promise, signal);
    }
  }

  /** The first value (the current one included) that satisfies `predicate`; rejects with the signal's reason if it aborts first. */
  async until(predicate: (value: T) => boolean, signal: AbortSignal): Promise<T> {
    for await (const value of this.watch(signal)) {
      if (predicate(value)) return value;
    }
    signal.throwIfAborted();
    throw new Error('a watch ended before its signal aborted');
  }
}

interface Deferred {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
}

function deferred(): Deferred {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

/** Waits for `promise` or the abort, and leaves no listener on `signal` behind. */
async function untilResolvedOrAborted(promise: Promise<void>, signal: AbortSignal): Promise<void> {
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<void>((resolve) => {
    onAbort = resolve;
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([promise, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

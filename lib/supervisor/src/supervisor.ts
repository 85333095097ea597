// Erlang-style supervision (after Monogon's osbase/supervisor): a tree of named runnables, each
// with its own logger and readiness, restarted with exponential backoff when it fails or
// returns, and all stopped when the tree's signal aborts. Logs only through the logger it is given.
import { errorMessage } from '@metropolis/errors';
import { Value } from '@metropolis/event';
import { silentLogger, type Logger } from '@metropolis/logging';

/** What a runnable gets besides its signal. */
export interface RunnableContext {
  /** Aborts when the supervisor stops (the same signal as the runnable's first argument). */
  readonly signal: AbortSignal;
  /** Where it sits in the tree, e.g. `root.roles.etcd`. */
  readonly path: string;
  /** The supervisor's logger with `runnable: path` on every line (silent when none was given). */
  readonly log: Logger;
  /** Reports this run ready; a restart starts over as not ready. */
  healthy(): void;
  /** A supervisor for this run's children (under `path`), stopped when the run ends. */
  readonly children: Supervisor;
}

/** A long-running task. It should return (or throw) only when `signal` aborts or it fails. */
export type Runnable = (signal: AbortSignal, context: RunnableContext) => Promise<void>;

/**
 * `starting`: runs, not yet healthy; `healthy`: said so; `backoff`: failed, restarts soon;
 * `done`/`failed`: a run-once runnable ended; `stopped`: ended because its supervisor stopped.
 */
export type RunnableState = 'starting' | 'healthy' | 'backoff' | 'done' | 'failed' | 'stopped';

export interface RunOptions {
  /** `never`: run once; an end or a failure is reported in its state, not restarted. @default 'always' */
  readonly restart?: 'always' | 'never';
}

export interface SupervisorEvents {
  /** A runnable failed or returned early and will be restarted after `delayMs`. */
  readonly onRestart?: (name: string, error: unknown, delayMs: number) => void;
}

export interface SupervisorOptions extends SupervisorEvents {
  /** @default 100 */
  readonly minBackoffMs?: number;
  /** @default 30_000 */
  readonly maxBackoffMs?: number;
  /** A runnable that ran this long without failing starts over at the minimum backoff. @default 60_000 */
  readonly resetAfterMs?: number;
  /** Restarts and run-once failures are logged here; runnables get a child of it. */
  readonly log?: Logger;
  /** The root's name, the first part of every path. @default 'root' */
  readonly name?: string;
}

export class Supervisor {
  /** Dotted path of this (sub)tree, e.g. `root.roles`. */
  readonly path: string;
  /** Every runnable's state in the whole tree, by path; shared by every subtree. */
  #states = new Value<ReadonlyMap<string, RunnableState>>(new Map());
  readonly #signal: AbortSignal;
  readonly #stop = new AbortController();
  readonly #options: SupervisorOptions;
  readonly #running = new Map<string, Promise<void>>();
  readonly #children = new Map<string, Supervisor>();
  /** Frees this subtree's name in its parent once it has stopped. */
  #detach: (() => void) | undefined;

  constructor(signal: AbortSignal, options: SupervisorOptions = {}) {
    this.#signal = AbortSignal.any([signal, this.#stop.signal]);
    this.#options = options;
    this.path = options.name ?? 'root';
  }

  /** Every runnable's state in the whole tree, by path (e.g. `root.roles.etcd`). */
  get states(): Value<ReadonlyMap<string, RunnableState>> {
    return this.#states;
  }

  /** Starts `runnable` under `name` (unique here) and keeps it running until the signal aborts. */
  run(name: string, runnable: Runnable, options: RunOptions = {}): void {
    this.#claim(name);
    this.#running.set(name, this.#loop(name, runnable, options.restart ?? 'always'));
  }

  /**
   * A subtree under `name` (unique here): it stops with this one or on its own {@link stop}, after
   * which the name is free again. Options not given are this supervisor's.
   */
  child(name: string, options: Omit<SupervisorOptions, 'name'> = {}): Supervisor {
    this.#claim(name);
    const child = this.#subtree(`${this.path}.${name}`, this.#signal, options);
    this.#children.set(name, child);
    child.#detach = () => {
      if (this.#children.get(name) === child) this.#children.delete(name);
    };
    return child;
  }

  /** Resolves once every runnable and child has stopped after the signal aborted. */
  async done(): Promise<void> {
    await Promise.all([
      ...this.#running.values(),
      ...[...this.#children.values()].map((child) => child.done()),
    ]);
  }

  /** Stops this (sub)tree and resolves once everything in it has stopped. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.done();
    this.#detach?.();
  }

  /** Resolves once the runnable `name` (of this supervisor) reported healthy; rejects if `signal` aborts first. */
  async whenHealthy(name: string, signal: AbortSignal): Promise<void> {
    const path = `${this.path}.${name}`;
    await this.states.until((states) => states.get(path) === 'healthy', signal);
  }

  #claim(name: string): void {
    if (this.#running.has(name) || this.#children.has(name)) {
      throw new Error(`${this.path}.${name} is already supervised`);
    }
  }

  #subtree(
    path: string,
    signal: AbortSignal,
    options: Omit<SupervisorOptions, 'name'>,
  ): Supervisor {
    const tree = new Supervisor(signal, { ...this.#options, ...options, name: path });
    // One state table for the whole tree, so readiness anywhere is watched in one place.
    tree.#states = this.#states;
    return tree;
  }

  #setState(path: string, state: RunnableState): void {
    const states = new Map(this.states.get());
    states.set(path, state);
    this.states.set(states);
  }

  // A method, so the compiler does not assume the flag is unchanged across awaits.
  #aborted(): boolean {
    return this.#signal.aborted;
  }

  async #loop(name: string, runnable: Runnable, restart: 'always' | 'never'): Promise<void> {
    const path = `${this.path}.${name}`;
    const log = (this.#options.log ?? silentLogger).child({ runnable: path });
    const min = this.#options.minBackoffMs ?? 100;
    const max = this.#options.maxBackoffMs ?? 30_000;
    const resetAfter = this.#options.resetAfterMs ?? 60_000;
    let delay = min;
    while (!this.#aborted()) {
      const started = Date.now();
      const run = new AbortController();
      const signal = AbortSignal.any([this.#signal, run.signal]);
      let children: Supervisor | undefined;
      let live = true;
      const subtree = (): Supervisor => this.#subtree(path, signal, {});
      this.#setState(path, 'starting');
      const context: RunnableContext = {
        signal,
        path,
        log,
        healthy: () => {
          if (live) this.#setState(path, 'healthy');
        },
        get children() {
          children ??= subtree();
          return children;
        },
      };
      let failure: unknown = new Error(`${path} returned while still supervised`);
      let failed = true;
      try {
        await runnable(signal, context);
        failed = false;
      } catch (error) {
        failure = error;
      }
      live = false;
      run.abort();
      await children?.done();
      if (this.#aborted()) break;
      if (restart === 'never') {
        if (failed) log.error('runnable failed', { error: errorMessage(failure) });
        this.#setState(path, failed ? 'failed' : 'done');
        return;
      }
      if (Date.now() - started >= resetAfter) delay = min;
      this.#setState(path, 'backoff');
      log.error('runnable failed, restarting', { error: errorMessage(failure), delayMs: delay });
      this.#options.onRestart?.(name, failure, delay);
      await sleep(delay, this.#signal);
      delay = Math.min(delay * 2, max);
    }
    this.#setState(path, 'stopped');
  }
}

/** Resolves once `signal` aborts (at once if it already has): the end of a runnable's work. */
export function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else
      signal.addEventListener(
        'abort',
        () => {
          resolve();
        },
        { once: true },
      );
  });
}

/** Resolves after `ms`, or early when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

// Erlang-style supervision in the small (after Monogon's osbase/supervisor): each runnable
// gets an AbortSignal, is restarted with exponential backoff when it fails or returns, and
// everything stops when the supervisor's signal aborts. Failures are reported, not logged.

/** A long-running task. It should return (or throw) only when `signal` aborts or it fails. */
export type Runnable = (signal: AbortSignal) => Promise<void>;

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
}

export class Supervisor {
  #signal: AbortSignal;
  #options: SupervisorOptions;
  #running = new Map<string, Promise<void>>();

  constructor(signal: AbortSignal, options: SupervisorOptions = {}) {
    this.#signal = signal;
    this.#options = options;
  }

  /** Starts `runnable` under `name` (unique) and keeps it running until the signal aborts. */
  run(name: string, runnable: Runnable): void {
    if (this.#running.has(name)) throw new Error(`runnable ${name} is already supervised`);
    this.#running.set(name, this.#loop(name, runnable));
  }

  /** Resolves once every runnable has stopped after the signal aborted. */
  async done(): Promise<void> {
    await Promise.all(this.#running.values());
  }

  // A method, so the compiler does not assume the flag is unchanged across awaits.
  #aborted(): boolean {
    return this.#signal.aborted;
  }

  async #loop(name: string, runnable: Runnable): Promise<void> {
    const min = this.#options.minBackoffMs ?? 100;
    const max = this.#options.maxBackoffMs ?? 30_000;
    const resetAfter = this.#options.resetAfterMs ?? 60_000;
    let delay = min;
    while (!this.#signal.aborted) {
      const started = Date.now();
      let failure: unknown = new Error(`${name} returned while still supervised`);
      try {
        await runnable(this.#signal);
      } catch (error) {
        failure = error;
      }
      if (this.#aborted()) return;
      if (Date.now() - started >= resetAfter) delay = min;
      this.#options.onRestart?.(name, failure, delay);
      await sleep(delay, this.#signal);
      delay = Math.min(delay * 2, max);
    }
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

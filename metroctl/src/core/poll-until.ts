// Polls a read until the caller is satisfied or Ctrl-C: `--watch` and `update apply FILE` read
// one OSUpdate every second or two, which is light for the API server and simple to reason about.
import { setTimeout as sleep } from 'node:timers/promises';

export interface PollUntilOptions<T> {
  /** One read. */
  readonly read: () => Promise<T>;
  /** Called with each value read; returns true to stop polling. */
  readonly onValue: (value: T) => boolean;
  /** Called when a read fails; returns true to try again next interval, false to rethrow. */
  readonly onError?: (error: unknown) => boolean;
  /** Stops polling; a read underway is abandoned (its result is ignored). */
  readonly signal: AbortSignal;
  readonly intervalMs: number;
}

type Outcome<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

/** 'done' once onValue returned true, 'aborted' once the signal fired. */
export async function pollUntil<T>(options: PollUntilOptions<T>): Promise<'done' | 'aborted'> {
  const { signal } = options;
  const aborted = new Promise<'aborted'>((resolve) => {
    if (signal.aborted) resolve('aborted');
    signal.addEventListener(
      'abort',
      () => {
        resolve('aborted');
      },
      { once: true },
    );
  });
  while (!signal.aborted) {
    const read = options.read().then(
      (value): Outcome<T> => ({ ok: true, value }),
      (error: unknown): Outcome<T> => ({ ok: false, error }),
    );
    const result = await Promise.race([read, aborted]);
    if (result === 'aborted') return 'aborted';
    if (result.ok) {
      if (options.onValue(result.value)) return 'done';
    } else if (options.onError?.(result.error) !== true) {
      throw result.error;
    }
    try {
      await sleep(options.intervalMs, undefined, { signal });
    } catch {
      return 'aborted';
    }
  }
  return 'aborted';
}

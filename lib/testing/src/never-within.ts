// A negative check over time: watch for something that must not happen, for a bounded while,
// instead of sleeping and looking once (which misses what happens and is undone in between).
import { setTimeout as sleep } from 'node:timers/promises';
import { TestingError } from './errors.js';

/**
 * Polls `happened` every `intervalMs` for `durationMs` (and once more at the end); it returns a
 * description of the forbidden thing once it has happened, undefined while it has not.
 * @throws {TestingError} `HAPPENED` with that description, as soon as it is seen.
 */
export async function neverWithin(
  durationMs: number,
  happened: () => Promise<string | undefined> | string | undefined,
  intervalMs = 100,
): Promise<void> {
  const deadline = performance.now() + durationMs;
  for (;;) {
    const last = performance.now() >= deadline;
    const seen = await happened();
    if (seen !== undefined) throw new TestingError('HAPPENED', seen);
    if (last) return;
    await sleep(Math.min(intervalMs, Math.max(0, deadline - performance.now())));
  }
}

// Renews a certificate when it is due, for as long as the node runs: it sleeps until the due
// time (re-reading it, so a renewal elsewhere counts), renews, and retries a failed renewal soon.
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '@metropolis/errors';
import type { Logger } from '@metropolis/logging';

export interface RenewalLoopOptions {
  /** What is renewed, for the log. */
  readonly name: string;
  /** When the renewal is due (ms since the epoch); undefined while there is nothing to renew. */
  readonly due: () => Promise<number | undefined>;
  readonly renew: () => Promise<void>;
  readonly log: Logger;
  /** @default 10_000 */
  readonly retryMs?: number;
  /** Longest sleep before the due time is read again. @default 600_000 */
  readonly maxSleepMs?: number;
}

/** Runs until `signal` aborts. */
export async function runRenewalLoop(
  options: RenewalLoopOptions,
  signal: AbortSignal,
): Promise<void> {
  const maxSleepMs = options.maxSleepMs ?? 600_000;
  while (!signal.aborted) {
    let waitMs: number;
    try {
      const due = await options.due();
      waitMs = due === undefined ? maxSleepMs : Math.min(maxSleepMs, due - Date.now());
      if (waitMs <= 0) {
        await options.renew();
        options.log.info('certificate renewed', { certificate: options.name });
        continue;
      }
    } catch (error) {
      options.log.warn('certificate renewal failed; retrying', {
        certificate: options.name,
        error: errorMessage(error),
      });
      waitMs = options.retryMs ?? 10_000;
    }
    await sleep(waitMs, undefined, { signal }).catch(() => undefined);
  }
}

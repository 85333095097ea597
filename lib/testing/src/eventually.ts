// Polling for what a distributed system reaches eventually, as a user would watch for it: retry
// a probe at an interval until it answers, for a bounded time.

/**
 * The first value `probe` returns without throwing, retried every `intervalMs`; after
 * `timeoutMs`, its last error.
 */
export async function eventually<T>(
  probe: () => Promise<T> | T,
  timeoutMs = 60_000,
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await probe();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}

/**
 * The first answer of `probe` other than undefined (or an error). Fails after `timeoutMs`
 * naming `what` and the last answer or error.
 */
export async function eventuallyDefined<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined> | T | undefined,
  intervalMs = 100,
): Promise<T> {
  try {
    return await eventually(
      async () => {
        const value = await probe();
        if (value === undefined) throw new Error('not yet');
        return value;
      },
      timeoutMs,
      intervalMs,
    );
  } catch (error) {
    const last = error instanceof Error ? error.message : String(error);
    throw new Error(`${what}: not reached in ${String(timeoutMs)} ms; last: ${last}`, {
      cause: error,
    });
  }
}

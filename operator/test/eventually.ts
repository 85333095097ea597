// Polling for what a user would eventually see, with the last observation in the failure.

/**
 * Calls `probe` until it returns something other than undefined (and not a rejection), and
 * returns that. Fails after `timeoutMs` naming `what` and the last answer or error.
 */
export async function eventually<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined> | T | undefined,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = 'no answer';
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
      last = 'not yet';
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: not reached in ${String(timeoutMs)} ms; last: ${last instanceof Error ? last.message : String(last)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

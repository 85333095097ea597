// Polling for something a distributed system reaches eventually: run `probe` until it stops
// throwing, and rethrow its last error once the time is up.

/** The first value `probe` returns without throwing, retried every `intervalMs`. */
export async function eventually<T>(
  probe: () => Promise<T>,
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

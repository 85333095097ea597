// Last-resort cleanup when the host process exits with nodes still up: one 'exit' listener for
// all nodes and networks (the process is one), instead of one each and a MaxListeners warning.

const cleanups = new Set<() => void>();

function runAll(): void {
  for (const cleanup of cleanups) cleanup();
}

/**
 * Runs `cleanup` (synchronous: nothing can be awaited in an 'exit' handler) if the process
 * exits before the returned function is called to cancel it.
 */
export function onProcessExit(cleanup: () => void): () => void {
  const entry = (): void => {
    cleanup();
  };
  if (cleanups.size === 0) process.on('exit', runAll);
  cleanups.add(entry);
  return () => {
    cleanups.delete(entry);
    if (cleanups.size === 0) process.removeListener('exit', runAll);
  };
}

// Runs a program from its TypeScript source, for the workspaces' bin/ launchers: re-executes node
// with tsx and the `source` condition, so workspace imports resolve to src/ without a build.
// Plain JavaScript, because a launcher starts before anything can compile TypeScript.
import { spawnSync } from 'node:child_process';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

/**
 * Runs `main` (a TypeScript file) with this process's arguments and exits as it did.
 * @param {URL} main
 */
export function runFromSource(main) {
  // Resolved from here, so the command also works when started from outside the checkout.
  const tsx = import.meta.resolve('tsx');
  const result = spawnSync(
    process.execPath,
    [`--import=${tsx}`, '--conditions=source', fileURLToPath(main), ...process.argv.slice(2)],
    // Ctrl-C reaches the child through the terminal's process group; the program decides the code.
    { stdio: 'inherit' },
  );
  if (result.error !== undefined) throw result.error;
  if (result.signal !== null) process.kill(process.pid, result.signal);
  process.exitCode = result.status ?? 1;
}

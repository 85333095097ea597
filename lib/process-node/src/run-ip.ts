// iproute2 as a function: every bridge, veth and namespace change goes through `ip`, the tool
// an operator would use by hand, so what the library does can be replayed in a shell.
import { execFile, execFileSync } from 'node:child_process';
import { ProcessNodeError } from './errors.js';

/**
 * Runs `ip ...args` and resolves to its stdout.
 * @throws {ProcessNodeError} `NETWORK_COMMAND_FAILED` with ip's stderr.
 */
export function runIp(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) {
        reject(
          new ProcessNodeError(
            'NETWORK_COMMAND_FAILED',
            `ip ${args.join(' ')}: ${stderr.trim() || error.message}`,
            { cause: error },
          ),
        );
      } else {
        resolve(stdout);
      }
    });
  });
}

/** `ip ...args` for process 'exit' handlers, where nothing can be awaited; errors are ignored. */
export function runIpSyncQuietly(args: readonly string[]): void {
  try {
    execFileSync('ip', args, { stdio: 'ignore' });
  } catch {
    // Best effort: the link or namespace may already be gone.
  }
}

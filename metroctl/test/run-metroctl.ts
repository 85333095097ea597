// Runs metroctl as a user would: a separate node process on the TypeScript source, with
// argv and a controlled environment; returns its exit code and both output streams.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const main = join(import.meta.dirname, '..', 'src', 'main.ts');

export interface MetroctlRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `metroctl ...args` with HOME set to `home` (so no real ~/.metroctl is ever touched). */
export function runMetroctl(args: readonly string[], home: string): Promise<MetroctlRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import=tsx', '--conditions=source', main, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

// Runs metroctl as a user would: a separate node process on the TypeScript source, with
// argv and a controlled environment; returns its exit code and both output streams, or runs it
// in the background for commands that keep going (serving a bundle, --watch).
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

/** A metroctl that runs in the background: its output so far, its exit, and Ctrl-C. */
export interface RunningMetroctl {
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
  /** Whether it is still running. */
  running(): boolean;
  /** Ctrl-C. */
  interrupt(): void;
  /** Resolves once stderr matches `pattern`; rejects if metroctl exits first. */
  waitForStderr(pattern: RegExp): Promise<void>;
}

/** Starts `metroctl ...args` as runMetroctl does, without waiting for it. */
export function startMetroctl(args: readonly string[], home: string): RunningMetroctl {
  const child = spawn(process.execPath, ['--import=tsx', '--conditions=source', main, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let done = false;
  const waiters = new Set<() => void>();
  const notify = (): void => {
    for (const waiter of waiters) waiter();
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    notify();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    notify();
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      done = true;
      notify();
      resolve(code);
    });
  });
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    running: () => !done,
    interrupt: () => child.kill('SIGINT'),
    waitForStderr: (pattern) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (pattern.test(stderr)) {
            waiters.delete(check);
            resolve();
          } else if (done) {
            waiters.delete(check);
            reject(new Error(`metroctl exited before ${String(pattern)}; stderr: ${stderr}`));
          }
        };
        waiters.add(check);
        check();
      }),
  };
}

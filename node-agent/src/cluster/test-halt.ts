// Test-only fault points: with `--test-halt-file`, the agent stops dead after the named step of
// a bootstrap or join, so a test can cut the power at exactly that point and check the next
// boot. The file is consumed at start: only the boot that found it halts. Never set on a node.
import { readFile, rm } from 'node:fs/promises';
import type { Logger } from '@metropolis/logging';

export const haltSteps = [
  'bootstrap:ca',
  'bootstrap:node-certificate',
  'join:ca',
  'join:node-certificate',
] as const;

export type HaltStep = (typeof haltSteps)[number];

/** Called after each step; resolves at once, or never at the step the test chose. */
export type HaltPoint = (step: HaltStep) => Promise<void>;

/** A halt point that never halts: every real node. */
export const noHalt: HaltPoint = () => Promise.resolve();

/** The halt point the file at `path` names (and removes), or {@link noHalt} if there is none. */
export async function consumeHaltFile(path: string, log: Logger): Promise<HaltPoint> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return noHalt;
  await rm(path, { force: true });
  const chosen = haltSteps.find((step) => step === text.trim());
  if (chosen === undefined) {
    log.warn('test halt file names no step; ignored', { path, steps: haltSteps.join(' ') });
    return noHalt;
  }
  log.warn('TEST ONLY: this boot halts after a step of bootstrap or join', { step: chosen });
  return (step) => {
    if (step !== chosen) return Promise.resolve();
    log.warn('TEST ONLY: halted', { step });
    return new Promise<void>(() => undefined);
  };
}

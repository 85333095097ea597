// boots.jsonl: one line per boot attempt, the firmware's own log that tests and launchers read
// to see which loader and slot each boot used and how it ended.
import { appendFile, readFile } from 'node:fs/promises';
import type { BootVia } from './boot-selection.js';
import type { SystemSlot } from '@metropolis/api';

/** One boot attempt, as a line of boots.jsonl. */
export interface BootRecord {
  /** 1 for the node's first boot ever; counts across power cycles and process restarts. */
  readonly boot: number;
  /** ISO 8601 time the firmware started this boot. */
  readonly at: string;
  /** The Boot#### number booted (`'0011'`), null for the removable path or nothing. */
  readonly bootCurrent: string | null;
  /** null when nothing was bootable. */
  readonly via: BootVia | null;
  /** ESP path of the loader, e.g. `\EFI\metropolis\boot-b.efi`. */
  readonly loader: string | null;
  readonly slot: SystemSlot | null;
  /** The loader's version. */
  readonly version: string | null;
  /** `'started'` once the agent runs; otherwise why this boot failed. */
  readonly outcome: string;
  /** Boot options the firmware passed over before this one, each with its reason. */
  readonly skipped: readonly string[];
  /**
   * ISO 8601 time the reboot before this boot began (the previous boot's agent asked to stop);
   * absent for a power-on. Recorded by hollow nodes.
   */
  readonly downAt?: string;
  /**
   * ISO 8601 time this boot's management API served, if it did once the agent had started (an
   * owned node; a node still joining serves later). Recorded by hollow nodes.
   */
  readonly servingAt?: string;
}

/** Every record of boots.jsonl, oldest first; empty when the node never booted. */
export async function readBootRecords(path: string): Promise<BootRecord[]> {
  const text = await readFile(path, 'utf8').catch((error: unknown) => {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return '';
    throw error;
  });
  // Text after the last newline is a record still being appended: not there yet.
  const lines = text.split('\n').slice(0, -1);
  return lines.filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as BootRecord);
}

/** Appends one record as a line. */
export async function appendBootRecord(path: string, record: BootRecord): Promise<void> {
  await appendFile(path, `${JSON.stringify(record)}\n`);
}

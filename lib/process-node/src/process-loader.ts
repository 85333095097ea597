// The process-flavour EFI loader: a small JSON file standing in for a UKI. It carries what the
// firmware emulator needs from a real loader: a version and the embedded kernel command line.
import { ProcessNodeError } from './errors.js';

/** The `kind` every process loader carries. */
export const processLoaderKind = 'metropolis-process-loader';

/** The decoded content of a process-flavour loader file. */
export interface ProcessLoader {
  readonly kind: typeof processLoaderKind;
  readonly formatVersion: 1;
  /** Release version of the system image this loader belongs to, e.g. `v0.2.0`. */
  readonly version: string;
  /** The embedded `.cmdline`; `METROPOLIS-SYSTEM-X` is replaced by the slot letter at boot. */
  readonly cmdline: string;
}

/**
 * Real loaders are tens of MiB; a process loader is a few hundred bytes. Anything larger is not
 * a process loader, and the firmware need not read it whole to say so.
 */
export const maxProcessLoaderBytes = 64 * 1024;

/**
 * Decodes a loader file.
 * @throws {ProcessNodeError} `LOADER_INVALID` for anything the process firmware cannot start.
 */
export function parseProcessLoader(bytes: Uint8Array): ProcessLoader {
  const invalid = (reason: string): ProcessNodeError =>
    new ProcessNodeError('LOADER_INVALID', `not a process loader: ${reason}`);
  if (bytes.length > maxProcessLoaderBytes) throw invalid(`${String(bytes.length)} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw invalid('not UTF-8 JSON');
  }
  if (typeof value !== 'object' || value === null) throw invalid('not a JSON object');
  const fields = value as Record<string, unknown>;
  if (fields.kind !== processLoaderKind) throw invalid(`kind is ${JSON.stringify(fields.kind)}`);
  if (fields.formatVersion !== 1) {
    throw invalid(`unsupported formatVersion ${JSON.stringify(fields.formatVersion)}`);
  }
  const { version, cmdline } = fields;
  if (typeof version !== 'string' || version === '') throw invalid('version is not a string');
  if (typeof cmdline !== 'string') throw invalid('cmdline is not a string');
  return { kind: processLoaderKind, formatVersion: 1, version, cmdline };
}

/** Encodes a loader file, for the bundle builder and test fixtures. */
export function encodeProcessLoader(loader: { version: string; cmdline: string }): Uint8Array {
  const file: ProcessLoader = {
    kind: processLoaderKind,
    formatVersion: 1,
    version: loader.version,
    cmdline: loader.cmdline,
  };
  return new TextEncoder().encode(`${JSON.stringify(file)}\n`);
}

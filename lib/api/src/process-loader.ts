// The process-flavour EFI loader: a small JSON file standing in for a UKI. The image builder
// writes it; the firmware emulator boots it and the node agent reads its version. It carries
// what a real loader carries for them: a version and the embedded kernel command line.
import { slotPlaceholder } from './boot-chain.js';

/** The `kind` every process loader carries. */
export const processLoaderKind = 'metropolis-process-loader';

/** The default command line; `root=` names the slot the agent was started from. */
export const defaultProcessCmdline = `console=ttyS0 root=PARTLABEL=${slotPlaceholder}`;

/** The decoded content of a process-flavour loader file (docs/bundle-format.md). */
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

/** A loader file: UTF-8 JSON, fields in this order, no trailing newline. */
export function encodeProcessLoader(loader: { version: string; cmdline: string }): Uint8Array {
  const file: ProcessLoader = {
    kind: processLoaderKind,
    formatVersion: 1,
    version: loader.version,
    cmdline: loader.cmdline,
  };
  return new TextEncoder().encode(JSON.stringify(file));
}

/** Decodes a loader file: the loader, or why the bytes are not one. */
export function decodeProcessLoader(
  bytes: Uint8Array,
): { readonly loader: ProcessLoader } | { readonly invalid: string } {
  const invalid = (reason: string) => ({ invalid: reason });
  if (bytes.length > maxProcessLoaderBytes) return invalid(`${String(bytes.length)} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return invalid('not UTF-8 JSON');
  }
  if (typeof value !== 'object' || value === null) return invalid('not a JSON object');
  const fields = value as Record<string, unknown>;
  if (fields.kind !== processLoaderKind) return invalid(`kind is ${JSON.stringify(fields.kind)}`);
  if (fields.formatVersion !== 1) {
    return invalid(`unsupported formatVersion ${JSON.stringify(fields.formatVersion)}`);
  }
  const { version, cmdline } = fields;
  if (typeof version !== 'string' || version === '') return invalid('version is not a string');
  if (typeof cmdline !== 'string') return invalid('cmdline is not a string');
  return { loader: { kind: processLoaderKind, formatVersion: 1, version, cmdline } };
}

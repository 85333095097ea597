// The "EFI loader" of the process flavour: a JSON stand-in for a UKI that the process-node
// firmware emulator reads. It carries the kernel command line, as the UKI's .cmdline section does.

/** Replaced by the slot letter (A/B) at boot, as Monogon's patched efistub does. */
export const slotPlaceholder = 'METROPOLIS-SYSTEM-X';

/** The default command line; `root=` names the slot the agent was started from. */
export const defaultProcessCmdline = `console=ttyS0 root=PARTLABEL=${slotPlaceholder}`;

/** The loader file's content (docs/bundle-format.md, "Process flavour"). */
export interface ProcessLoader {
  readonly kind: 'metropolis-process-loader';
  readonly formatVersion: 1;
  readonly version: string;
  readonly cmdline: string;
}

/** loader.efi for a release: UTF-8 JSON, fields in this order, no trailing newline. */
export function encodeProcessLoader(version: string, cmdline: string): Uint8Array {
  const loader: ProcessLoader = {
    kind: 'metropolis-process-loader',
    formatVersion: 1,
    version,
    cmdline,
  };
  return new TextEncoder().encode(JSON.stringify(loader));
}

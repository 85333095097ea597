// A/B slot detection as Monogon's patched systemd-stub does it: the slot comes from the loader's
// own file name, and the loader's command line names the slot through `METROPOLIS-SYSTEM-X`.

/** A system slot. */
export type Slot = 'A' | 'B';

/**
 * The slot a loader at `loaderPath` boots: a path ending in `boot-b.efi` (any case) is B, one
 * ending in `boot-a.efi` is A, anything else (the removable-media fallback) is A.
 */
export function slotFromLoaderPath(loaderPath: string): Slot {
  const lower = loaderPath.toLowerCase();
  if (lower.endsWith('boot-b.efi')) return 'B';
  return 'A';
}

/** The loader's command line with every `METROPOLIS-SYSTEM-X` naming `slot`. */
export function cmdlineForSlot(cmdline: string, slot: Slot): string {
  return cmdline.replaceAll('METROPOLIS-SYSTEM-X', `METROPOLIS-SYSTEM-${slot}`);
}

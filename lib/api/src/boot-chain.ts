// The names the boot chain gives the two A/B system slots, shared by the image builder, the
// firmware emulator and the node agent: loader files on the ESP, partition labels on the kernel
// command line, Boot#### descriptions, and where node parameters live on the ESP.

/** A system slot (the proto enum of the same meaning is `Slot`). */
export type SystemSlot = 'A' | 'B';

export const allSystemSlots: readonly SystemSlot[] = ['A', 'B'];

/** The ESP directory of the slot loaders, as path segments (`\EFI\metropolis`). */
export const loaderDirSegments = ['EFI', 'metropolis'] as const;

/** The file name of a slot's loader in {@link loaderDirSegments}: `boot-a.efi`, `boot-b.efi`. */
export function loaderFileName(slot: SystemSlot): string {
  return `boot-${slot.toLowerCase()}.efi`;
}

/** The loader's path on the ESP as EFI sees it, e.g. `\EFI\metropolis\boot-a.efi`. */
export function loaderEfiPath(slot: SystemSlot): string {
  return `\\${loaderDirSegments.join('\\')}\\${loaderFileName(slot)}`;
}

/**
 * The slot a loader at `loaderPath` boots, as Monogon's patched systemd-stub decides from its own
 * file name: `boot-b.efi` (any case) is B, anything else (`boot-a.efi`, the removable-media
 * fallback) is A.
 */
export function slotFromLoaderPath(loaderPath: string): SystemSlot {
  return loaderPath.toLowerCase().endsWith(loaderFileName('B')) ? 'B' : 'A';
}

/** The description of a slot's Boot#### entry, as Monogon names it. */
export function bootEntryDescription(slot: SystemSlot): string {
  return `Metropolis Slot ${slot}`;
}

/** The GPT partition label of a slot: `METROPOLIS-SYSTEM-A`, `METROPOLIS-SYSTEM-B`. */
export function slotPartitionLabel(slot: SystemSlot): string {
  return `METROPOLIS-SYSTEM-${slot}`;
}

/** In a loader's command line, replaced by the slot letter at boot (Monogon's patched systemd-stub). */
export const slotPlaceholder = 'METROPOLIS-SYSTEM-X';

/** A loader's command line with every {@link slotPlaceholder} naming `slot`. */
export function cmdlineForSlot(cmdline: string, slot: SystemSlot): string {
  return cmdline.replaceAll(slotPlaceholder, slotPartitionLabel(slot));
}

/** Finds `PARTLABEL=METROPOLIS-SYSTEM-A|B` on a kernel command line; group 1 is the letter. */
export const slotPartLabelPattern = /PARTLABEL=METROPOLIS-SYSTEM-([AB])(?![A-Za-z0-9-])/;

/** Node parameters on the ESP, as path segments (`metropolis/parameters.json`), as Monogon keeps them. */
export const parametersSegments = ['metropolis', 'parameters.json'] as const;

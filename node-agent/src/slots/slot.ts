// The two A/B system slots and the names the boot chain gives them: partition labels on the
// kernel command line and loader file names on the ESP, as in Monogon.
import { AgentError } from '../errors.js';

export type Slot = 'A' | 'B';

export const allSlots: readonly Slot[] = ['A', 'B'];

export function otherSlot(slot: Slot): Slot {
  return slot === 'A' ? 'B' : 'A';
}

/** The loader's path on the ESP as EFI sees it, e.g. `\EFI\metropolis\boot-a.efi`. */
export function loaderEfiPath(slot: Slot): string {
  return `\\EFI\\metropolis\\boot-${slot.toLowerCase()}.efi`;
}

/** The description of a slot's Boot#### entry, as Monogon names it. */
export function bootEntryDescription(slot: Slot): string {
  return `Metropolis Slot ${slot}`;
}

const partLabel = /PARTLABEL=METROPOLIS-SYSTEM-([AB])(?![A-Za-z0-9-])/;

/** The running slot from the kernel command line, as Monogon's CurrentlyRunningSlot. */
export function slotFromCmdline(cmdline: string): Slot {
  const match = partLabel.exec(cmdline);
  const letter = match?.[1];
  if (letter !== 'A' && letter !== 'B') {
    throw new AgentError(
      'AGENT_NO_RUNNING_SLOT',
      `kernel command line names no system slot (PARTLABEL=METROPOLIS-SYSTEM-A|B): ${cmdline.trim()}`,
    );
  }
  return letter;
}

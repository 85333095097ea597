// The two A/B system slots as the agent uses them. The names the boot chain gives them (loader
// files, partition labels, Boot#### descriptions) are a contract in @metropolis/api.
import { slotPartLabelPattern, type SystemSlot } from '@metropolis/api';
import { AgentError } from '../errors.js';

/** A system slot, named as the boot chain names it. */
export type Slot = SystemSlot;

export function otherSlot(slot: Slot): Slot {
  return slot === 'A' ? 'B' : 'A';
}

/** The running slot from the kernel command line, as Monogon's CurrentlyRunningSlot. */
export function slotFromCmdline(cmdline: string): Slot {
  const letter = slotPartLabelPattern.exec(cmdline)?.[1];
  if (letter !== 'A' && letter !== 'B') {
    throw new AgentError(
      'AGENT_NO_RUNNING_SLOT',
      `kernel command line names no system slot (PARTLABEL=METROPOLIS-SYSTEM-A|B): ${cmdline.trim()}`,
    );
  }
  return letter;
}

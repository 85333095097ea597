// A plain-data snapshot of the boot manager variables, for logs, the CLI and the API: ids as
// 4 hex digits, device paths as EDK2 text, optional data as hex.
import type { BootVariables } from './boot-variables.js';
import { formatBootId } from './boot-variables.js';
import { loadOptionActive, loadOptionToText } from './load-option.js';

export interface BootConfigurationEntry {
  /** `'0011'` for Boot0011. */
  id: string;
  description: string;
  /** LOAD_OPTION_ACTIVE. */
  active: boolean;
  /** EDK2 text, or `<malformed: message>` for a corrupt entry. */
  devicePath: string;
  /** Lowercase hex, `''` if none. */
  optionalData: string;
  /** Only on a corrupt entry: the EfiError's code and message. */
  error?: string;
}

/** Plain, mutable JSON-ready data (a fresh object per call). */
export interface BootConfiguration {
  bootCurrent: string | null;
  bootNext: string | null;
  bootOrder: string[];
  /** Every Boot####, sorted by id, whether or not BootOrder lists it. */
  entries: BootConfigurationEntry[];
}

/**
 * Reads the whole boot configuration. A corrupt Boot#### shows up as an inactive entry with
 * description `''`, devicePath `<malformed: message>`, optionalData `''` and `error` set, so
 * one bad firmware entry never hides the others. A corrupt BootOrder, BootNext or BootCurrent
 * throws EFI_MALFORMED.
 */
export async function readBootConfiguration(variables: BootVariables): Promise<BootConfiguration> {
  const bootCurrent = await variables.bootCurrent();
  const bootNext = await variables.bootNext();
  const bootOrder = await variables.bootOrder();
  const entries = await variables.entries();
  return {
    bootCurrent: bootCurrent === null ? null : formatBootId(bootCurrent),
    bootNext: bootNext === null ? null : formatBootId(bootNext),
    bootOrder: bootOrder.map(formatBootId),
    entries: entries.map((entry): BootConfigurationEntry => {
      const id = formatBootId(entry.id);
      if ('error' in entry) {
        return {
          id,
          description: '',
          active: false,
          devicePath: `<malformed: ${entry.error.message}>`,
          optionalData: '',
          error: `${entry.error.code}: ${entry.error.message}`,
        };
      }
      const option = entry.option;
      return {
        id,
        description: option.description,
        active: (option.attributes & loadOptionActive) !== 0,
        devicePath: loadOptionToText(option),
        optionalData: Buffer.from(option.optionalData).toString('hex'),
      };
    }),
  };
}

// The boot manager's variables (UEFI spec 2.10 section 3.3): Boot####, BootOrder, BootNext,
// BootCurrent. Mechanism only; which entry to boot is the caller's policy.
import { checkUint } from './byte-writer.js';
import type { EfiVariable, EfiVariableStore } from './efi-var-store.js';
import { EfiError } from './errors.js';
import { decodeLoadOption, encodeLoadOption, type LoadOption } from './load-option.js';

// BOOTSERVICE_ACCESS | RUNTIME_ACCESS: firmware sets BootCurrent volatile.
const bootCurrentAttributes = 0x6;
// 0xFFFF is left free: some firmware treats it as "no entry".
const maxNewEntryId = 0xfffe;
// Real firmware writes lowercase hex digits (and we accept any case), so match loosely.
const entryNamePattern = /^boot([0-9a-f]{4})$/i;

/** `0x11` -> `'0011'`: the #### of Boot####, 4 uppercase hex digits. */
export function formatBootId(id: number): string {
  checkUint(id, 0xffff, 'boot entry id');
  return id.toString(16).toUpperCase().padStart(4, '0');
}

function entryName(id: number): string {
  return `Boot${formatBootId(id)}`;
}

function u16Value(data: Uint8Array, name: string): number {
  if (data.length !== 2) {
    throw new EfiError(
      'EFI_MALFORMED',
      `${name} is ${String(data.length)} bytes, want a 2-byte boot entry id`,
    );
  }
  return (data[0] ?? 0) | ((data[1] ?? 0) << 8);
}

function u16Bytes(ids: readonly number[], what: string): Uint8Array {
  const bytes = new Uint8Array(2 * ids.length);
  ids.forEach((id, index) => {
    checkUint(id, 0xffff, what);
    bytes[2 * index] = id & 0xff;
    bytes[2 * index + 1] = id >> 8;
  });
  return bytes;
}

/** Boot manager variables in one variable store (vendor EFI_GLOBAL_VARIABLE). */
export class BootVariables {
  readonly store: EfiVariableStore;

  constructor(store: EfiVariableStore) {
    this.store = store;
  }

  /** The ids in BootOrder; [] if it is absent. EFI_MALFORMED for an odd byte count. */
  async bootOrder(): Promise<number[]> {
    const variable = await this.store.tryRead('BootOrder');
    if (variable === undefined) return [];
    const data = variable.data;
    if (data.length % 2 !== 0) {
      throw new EfiError(
        'EFI_MALFORMED',
        `BootOrder is ${String(data.length)} bytes, not a whole number of 2-byte ids`,
      );
    }
    return Array.from(
      { length: data.length / 2 },
      (_, i) => (data[2 * i] ?? 0) | ((data[2 * i + 1] ?? 0) << 8),
    );
  }

  async setBootOrder(order: readonly number[]): Promise<void> {
    await this.store.write('BootOrder', u16Bytes(order, 'BootOrder id'));
  }

  /** The entry the firmware boots once on the next boot (it then deletes BootNext), or null. */
  async bootNext(): Promise<number | null> {
    const variable = await this.store.tryRead('BootNext');
    return variable === undefined ? null : u16Value(variable.data, 'BootNext');
  }

  async setBootNext(id: number): Promise<void> {
    await this.store.write('BootNext', u16Bytes([id], 'BootNext'));
  }

  async clearBootNext(): Promise<void> {
    await this.store.delete('BootNext');
  }

  /** The entry the firmware booted this time, or null. */
  async bootCurrent(): Promise<number | null> {
    const variable = await this.store.tryRead('BootCurrent');
    return variable === undefined ? null : u16Value(variable.data, 'BootCurrent');
  }

  /** Firmware's side of BootCurrent (for emulators): volatile, attributes BS|RT. */
  async setBootCurrent(id: number): Promise<void> {
    await this.store.write('BootCurrent', u16Bytes([id], 'BootCurrent'), {
      attributes: bootCurrentAttributes,
    });
  }

  /**
   * Boot#### decoded, or undefined if absent. Falls back to any other spelling of the name
   * (`Boot000a`, `boot000a`) that firmware wrote. EFI_MALFORMED if the value is corrupt.
   */
  async entry(id: number): Promise<LoadOption | undefined> {
    const canonical = entryName(id);
    const variable =
      (await this.store.tryRead(canonical)) ?? (await this.#tryReadVariants(id, canonical));
    return variable === undefined ? undefined : decodeLoadOption(variable.data);
  }

  /**
   * Every Boot#### (any case), sorted by id. A corrupt entry is reported with its error instead
   * of failing the whole list. When two spellings share an id, the canonical one wins.
   */
  async entries(): Promise<
    Array<{ id: number; option: LoadOption } | { id: number; error: EfiError }>
  > {
    const names = await this.#entryNames();
    const result: Array<{ id: number; option: LoadOption } | { id: number; error: EfiError }> = [];
    for (const [id, name] of [...names].sort(([a], [b]) => a - b)) {
      try {
        const variable = await this.store.read(name);
        result.push({ id, option: decodeLoadOption(variable.data) });
      } catch (error) {
        if (!(error instanceof EfiError)) throw error;
        // Deleted since the listing: it is simply gone.
        if (error.code === 'EFI_VAR_NOT_FOUND') continue;
        result.push({ id, error });
      }
    }
    return result;
  }

  /** Writes Boot####, keeping the spelling of an existing variable for the same id. */
  async setEntry(id: number, option: LoadOption): Promise<void> {
    const data = encodeLoadOption(option);
    const name = (await this.#entryNames()).get(id) ?? entryName(id);
    await this.store.write(name, data);
  }

  /** Writes `option` at the lowest free id in 0000..FFFE and returns it. EFI_NO_FREE_ENTRY. */
  async addEntry(option: LoadOption): Promise<number> {
    const data = encodeLoadOption(option);
    const used = await this.#entryNames();
    for (let id = 0; id <= maxNewEntryId; id++) {
      if (!used.has(id)) {
        await this.store.write(entryName(id), data);
        return id;
      }
    }
    throw new EfiError('EFI_NO_FREE_ENTRY', 'every boot entry id from 0000 to FFFE is in use');
  }

  /** Deletes Boot#### under every spelling; no error if absent. Leaves BootOrder alone. */
  async deleteEntry(id: number): Promise<void> {
    checkUint(id, 0xffff, 'boot entry id');
    const names = await this.store.list();
    for (const name of names) {
      const match = entryNamePattern.exec(name);
      if (match?.[1] !== undefined && Number.parseInt(match[1], 16) === id) {
        await this.store.delete(name);
      }
    }
  }

  /** id -> variable name of every Boot####; the canonical spelling wins ties. */
  async #entryNames(): Promise<Map<number, string>> {
    const names = new Map<number, string>();
    for (const name of await this.store.list()) {
      const match = entryNamePattern.exec(name);
      if (match?.[1] === undefined) continue;
      const id = Number.parseInt(match[1], 16);
      if (!names.has(id) || name === entryName(id)) names.set(id, name);
    }
    return names;
  }

  async #tryReadVariants(id: number, canonical: string): Promise<EfiVariable | undefined> {
    const name = (await this.#entryNames()).get(id);
    return name === undefined || name === canonical ? undefined : this.store.tryRead(name);
  }
}

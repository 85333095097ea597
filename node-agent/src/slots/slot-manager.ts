// The A/B policy over EFI boot variables (as Monogon's): one Boot#### entry per slot, a new
// version booted once through BootNext, made permanent by its place in BootOrder.
import { readFile, stat } from 'node:fs/promises';
import {
  allSystemSlots,
  bootEntryDescription,
  decodeProcessLoader,
  loaderEfiPath,
  type NodeLayout,
} from '@metropolis/api';
import {
  filePath,
  hardDriveGpt,
  loadOptionActive,
  type BootVariables,
  type LoadOption,
} from '@metropolis/efi';
import { AgentError } from '../errors.js';
import { otherSlot, type Slot } from './slot.js';

/** The ESP's GPT entry, which every slot boot entry points into. */
export interface EspPartition {
  readonly partitionNumber: number;
  readonly start: bigint;
  readonly size: bigint;
  /** GPT partition GUID, lowercase. */
  readonly guid: string;
}

export interface SlotView {
  readonly slot: Slot;
  /** Version of the slot's loader on the ESP; '' when it holds nothing bootable. */
  readonly version: string;
  readonly bootEntry: number | undefined;
  readonly active: boolean;
}

export interface BootStateView {
  readonly runningSlot: Slot;
  readonly nextSlot: Slot | undefined;
  readonly bootOrder: readonly Slot[];
  /** The running slot is not first in BootOrder: this boot came through BootNext. */
  readonly trial: boolean;
  readonly slots: readonly SlotView[];
  readonly bootCurrent: number | null;
}

export interface SlotManagerDeps {
  readonly variables: BootVariables;
  readonly layout: NodeLayout;
  readonly esp: EspPartition;
  readonly runningSlot: Slot;
}

type SlotEntries = Map<Slot, { readonly id: number; readonly option: LoadOption }>;

export class SlotManager {
  readonly runningSlot: Slot;
  #deps: SlotManagerDeps;
  /**
   * Each slot's loader version with the file identity it was read from: the status reads it on
   * every heartbeat, and a stat is much cheaper than reading and decoding the loader again.
   */
  readonly #loaderVersions = new Map<Slot, { readonly file: string; readonly version: string }>();

  constructor(deps: SlotManagerDeps) {
    this.#deps = deps;
    this.runningSlot = deps.runningSlot;
  }

  /**
   * Run on every good boot: both slot entries exist and both are in BootOrder. Real firmware
   * drops entries (Monogon issue #257), so missing ones are recreated; order is not changed.
   */
  async ensureBootEntries(): Promise<{ created: Slot[]; addedToOrder: Slot[] }> {
    const { variables } = this.#deps;
    const entries = await this.#entries();
    const created: Slot[] = [];
    const ids = new Map<Slot, number>();
    for (const slot of allSystemSlots) {
      const existing = entries.get(slot);
      if (existing) {
        ids.set(slot, existing.id);
      } else {
        ids.set(slot, await variables.addEntry(this.#newEntry(slot, true)));
        created.push(slot);
      }
    }
    const running = idOf(ids, this.runningSlot);
    const other = idOf(ids, otherSlot(this.runningSlot));
    const order = await variables.bootOrder();
    const addedToOrder: Slot[] = [];
    const next = [...order];
    const hasRunning = next.includes(running);
    const hasOther = next.includes(other);
    if (!hasRunning && !hasOther) {
      // Ours go first; the firmware's own entries stay behind them.
      next.unshift(running, other);
      addedToOrder.push(this.runningSlot, otherSlot(this.runningSlot));
    } else if (!hasRunning) {
      next.splice(next.indexOf(other) + 1, 0, running);
      addedToOrder.push(this.runningSlot);
    } else if (!hasOther) {
      next.splice(next.indexOf(running) + 1, 0, other);
      addedToOrder.push(otherSlot(this.runningSlot));
    }
    if (addedToOrder.length > 0) await variables.setBootOrder(next);
    return { created, addedToOrder };
  }

  async state(): Promise<BootStateView> {
    const { variables } = this.#deps;
    const [entries, order, next, current] = await Promise.all([
      this.#entries(),
      variables.bootOrder(),
      variables.bootNext(),
      variables.bootCurrent(),
    ]);
    const slotOfId = new Map([...entries].map(([slot, entry]) => [entry.id, slot]));
    const bootOrder = order.flatMap((id) => {
      const slot = slotOfId.get(id);
      return slot === undefined ? [] : [slot];
    });
    const slots = await Promise.all(
      allSystemSlots.map(async (slot): Promise<SlotView> => {
        const entry = entries.get(slot);
        return {
          slot,
          version: await this.loaderVersion(slot),
          bootEntry: entry?.id,
          active: entry !== undefined && (entry.option.attributes & loadOptionActive) !== 0,
        };
      }),
    );
    return {
      runningSlot: this.runningSlot,
      nextSlot: next === null ? undefined : slotOfId.get(next),
      bootOrder,
      trial: bootOrder[0] !== this.runningSlot,
      slots,
      bootCurrent: current,
    };
  }

  /** Writes BootNext: the next boot, and only that one, starts `slot`. */
  async setNextBoot(slot: Slot): Promise<void> {
    const id = await this.#bootableEntry(slot);
    await this.#deps.variables.setBootNext(id);
  }

  /** Makes the running slot permanent: its entry moves before the other slot's in BootOrder. */
  async commit(): Promise<{ changed: boolean }> {
    const { variables } = this.#deps;
    const entries = await this.#entries();
    const running = entries.get(this.runningSlot)?.id;
    const other = entries.get(otherSlot(this.runningSlot))?.id;
    if (running === undefined || other === undefined) {
      throw new AgentError(
        'AGENT_STORAGE',
        'slot boot entries are missing; they are recreated at boot',
      );
    }
    const order = await variables.bootOrder();
    const at = order.indexOf(running);
    const otherAt = order.indexOf(other);
    if (at >= 0 && (otherAt < 0 || at < otherAt)) return { changed: false };
    const next = [...order];
    if (at < 0) next.splice(Math.max(otherAt, 0), 0, running);
    else {
      // Swap, as Monogon does, so foreign entries keep their places.
      next[otherAt] = running;
      next[at] = other;
    }
    await variables.setBootOrder(next);
    return { changed: true };
  }

  /** One boot of the other slot, whose previous content is still on disk. */
  async rollback(): Promise<Slot> {
    const target = otherSlot(this.runningSlot);
    await this.setNextBoot(target);
    return target;
  }

  /** Clears BootNext if it points at `slot`'s entry. */
  async clearNextBootTo(slot: Slot): Promise<void> {
    const { variables } = this.#deps;
    const entry = (await this.#entries()).get(slot);
    if (entry !== undefined && (await variables.bootNext()) === entry.id) {
      await variables.clearBootNext();
    }
  }

  /** Sets or clears LOAD_OPTION_ACTIVE on a slot's entry, creating the entry if it is missing. */
  async setEntryActive(slot: Slot, active: boolean): Promise<number> {
    const { variables } = this.#deps;
    const entry = (await this.#entries()).get(slot);
    if (!entry) return variables.addEntry(this.#newEntry(slot, active));
    const attributes = active
      ? entry.option.attributes | loadOptionActive
      : entry.option.attributes & ~loadOptionActive;
    if (attributes !== entry.option.attributes) {
      await variables.setEntry(entry.id, { ...entry.option, attributes });
    }
    return entry.id;
  }

  /** The version in a slot's loader on the ESP; '' when there is no valid loader. */
  async loaderVersion(slot: Slot): Promise<string> {
    const path = this.#deps.layout.loader(slot);
    const stats = await stat(path, { bigint: true }).catch(() => undefined);
    if (stats === undefined) return '';
    // Replaced (a new inode) or written in place (size, modification or change time): read again.
    const file = `${String(stats.ino)}:${String(stats.size)}:${String(stats.mtimeNs)}:${String(stats.ctimeNs)}`;
    const known = this.#loaderVersions.get(slot);
    if (known?.file === file) return known.version;
    const bytes = await readFile(path).catch(() => undefined);
    if (bytes === undefined) return '';
    const decoded = decodeProcessLoader(bytes);
    const version = 'loader' in decoded ? decoded.loader.version : '';
    this.#loaderVersions.set(slot, { file, version });
    return version;
  }

  async #bootableEntry(slot: Slot): Promise<number> {
    const entry = (await this.#entries()).get(slot);
    if (!entry || (entry.option.attributes & loadOptionActive) === 0) {
      throw new AgentError(
        'AGENT_SLOT_NOT_BOOTABLE',
        `slot ${slot} has no active boot entry (a stage into it did not finish)`,
      );
    }
    if ((await this.loaderVersion(slot)) === '') {
      throw new AgentError('AGENT_SLOT_NOT_BOOTABLE', `slot ${slot} holds no bootable loader`);
    }
    return entry.id;
  }

  /** Our entries: exactly HD(ESP GUID)/File(\EFI\metropolis\boot-x.efi); the lowest id wins. */
  async #entries(): Promise<SlotEntries> {
    const found: SlotEntries = new Map();
    for (const entry of await this.#deps.variables.entries()) {
      if (!('option' in entry)) continue; // corrupt foreign entries are not ours to judge
      for (const slot of allSystemSlots) {
        if (!found.has(slot) && this.#isSlotEntry(entry.option, slot)) {
          found.set(slot, { id: entry.id, option: entry.option });
        }
      }
    }
    return found;
  }

  #isSlotEntry(option: LoadOption, slot: Slot): boolean {
    const [path] = option.filePaths;
    if (path?.length !== 2) return false;
    const [disk, file] = path;
    return (
      disk?.kind === 'hardDrive' &&
      disk.partition.format === 'gpt' &&
      disk.partition.guid.toLowerCase() === this.#deps.esp.guid.toLowerCase() &&
      file?.kind === 'filePath' &&
      file.path.toLowerCase() === loaderEfiPath(slot).toLowerCase()
    );
  }

  #newEntry(slot: Slot, active: boolean): LoadOption {
    const { esp } = this.#deps;
    return {
      attributes: active ? loadOptionActive : 0,
      description: bootEntryDescription(slot),
      filePaths: [
        [
          hardDriveGpt(esp.partitionNumber, esp.start, esp.size, esp.guid),
          filePath(loaderEfiPath(slot)),
        ],
      ],
      // No optional data: systemd-stub would take text there as a command-line override.
      optionalData: new Uint8Array(),
    };
  }
}

function idOf(ids: ReadonlyMap<Slot, number>, slot: Slot): number {
  const id = ids.get(slot);
  if (id === undefined) throw new AgentError('AGENT_STORAGE', `no boot entry for slot ${slot}`);
  return id;
}

// One pass of the emulated firmware and kernel, up to the moment init would run: consume
// BootNext, pick a loader, set the variables the firmware and systemd-stub set, mount the slot.
import { lstat, mkdir, open, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { maxProcessLoaderBytes } from '@metropolis/api';
import {
  BootVariables,
  EfiVarStore,
  encodeEfiString,
  formatBootId,
  systemdLoaderVendor,
  type EfiVariableStore,
  type LoadOption,
} from '@metropolis/efi';
import { errorMessage } from '@metropolis/errors';
import {
  loaderPathsToProbe,
  selectBoot,
  type BootChoice,
  type EspPartition,
  type LoaderProbe,
} from './boot-selection.js';
import type { ConsoleLog } from './console-log.js';
import { ProcessNodeError } from './errors.js';
import { slotPath, type EmulatedDisk, type NodeLayout } from './node-layout.js';
import { parseProcessLoader } from './process-loader.js';
import { mountSystemImage } from './system-image.js';

/** How far a boot got. */
export type FirmwareBoot =
  /** The slot is mounted and run/cmdline written: the agent can start. */
  | { readonly kind: 'loaded'; readonly choice: BootChoice; readonly skipped: readonly string[] }
  /** The loader started, but its system image could not be mounted: a reboot follows. */
  | {
      readonly kind: 'failed';
      readonly choice: BootChoice;
      readonly skipped: readonly string[];
      readonly reason: string;
    }
  /** No option and no removable loader can be started. */
  | { readonly kind: 'nothing'; readonly skipped: readonly string[] };

/** BS|RT: systemd-stub's Loader* variables are volatile. */
const volatileAttributes = 0x6;

/** Runs the boot manager and the "kernel" up to init for the node in `layout`. */
export async function firmwareBoot(
  layout: NodeLayout,
  disk: EmulatedDisk,
  serial: ConsoleLog,
): Promise<FirmwareBoot> {
  // Power-on state: nothing of the last boot survives in run/ (a tmpfs on real nodes).
  await rm(layout.run, { recursive: true, force: true });
  await mkdir(layout.rootfs, { recursive: true });

  const { choice, skipped } = await runBootManager({
    store: new EfiVarStore(layout.efivars),
    espDir: layout.esp,
    esp: disk.esp,
    serial,
  });
  if (choice === undefined) return { kind: 'nothing', skipped };

  await writeFile(layout.cmdline, `${choice.cmdline}\n`);
  await serial.print(`kernel: command line: ${choice.cmdline}`);
  try {
    await mountSystemImage(slotPath(layout, choice.slot), layout.rootfs);
  } catch (error) {
    if (!(error instanceof ProcessNodeError) || error.code !== 'SYSTEM_IMAGE_INVALID') throw error;
    const reason = `cannot mount slot ${choice.slot}: ${error.message}`;
    await serial.print(`kernel: panic: ${reason}`);
    return { kind: 'failed', choice, skipped, reason };
  }
  return { kind: 'loaded', choice, skipped };
}

/** The boot manager's part of a machine: a variable store, an ESP, somewhere to print. */
export interface BootManagerMachine {
  readonly store: EfiVariableStore;
  /** The mounted ESP. */
  readonly espDir: string;
  readonly esp: EspPartition;
  readonly serial: Pick<ConsoleLog, 'print'>;
}

/**
 * One pass of the UEFI boot manager: consumes BootNext, picks the loader to start (BootNext,
 * then BootOrder, then the removable path), sets BootCurrent and the variables systemd-stub sets.
 * Shared by process nodes and hollow nodes, so both boot by the same rules.
 */
export async function runBootManager(
  machine: BootManagerMachine,
): Promise<{ readonly choice: BootChoice | undefined; readonly skipped: readonly string[] }> {
  const { store, espDir, esp, serial } = machine;
  const variables = new BootVariables(store);
  const bootNext = await consumeBootNext(store, variables, serial);
  const bootOrder = await variables.bootOrder().catch(async (error: unknown) => {
    await serial.print(`firmware: BootOrder unreadable, ignored: ${errorMessage(error)}`);
    return [];
  });
  const entries = new Map<number, LoadOption | Error>();
  for (const entry of await variables.entries()) {
    entries.set(entry.id, 'option' in entry ? entry.option : entry.error);
  }
  const input = { bootNext, bootOrder, entries, esp };
  const loaders = new Map<string, LoaderProbe>();
  for (const path of loaderPathsToProbe(input)) {
    const probe = await probeLoader(espDir, path);
    if (probe !== undefined) loaders.set(path, probe);
  }
  const selection = selectBoot({ ...input, loaders });
  const skipped = selection.skipped.map((skip) => skip.reason);
  if (skipped.length > 0) {
    await serial.print(...skipped.map((reason) => `firmware: cannot boot ${reason}`));
  }
  const choice = selection.chosen;
  if (choice === undefined) {
    await serial.print('firmware: no bootable option or device was found');
    return { choice: undefined, skipped };
  }

  const name = choice.bootId === null ? 'removable media' : `Boot${formatBootId(choice.bootId)}`;
  await serial.print(
    `firmware: booting ${name} "${choice.description}" from ${choice.devicePath}`,
    // systemd-stub with Monogon's A/B patch says this before handing over to the kernel.
    `stub: Booting into Slot ${choice.slot}`,
  );
  if (choice.bootId === null) {
    if ((await store.tryRead('BootCurrent')) !== undefined) await store.delete('BootCurrent');
  } else {
    await variables.setBootCurrent(choice.bootId);
  }
  // As systemd-stub does: the partition it was loaded from (uppercase) and its own path.
  await store.write('LoaderDevicePartUUID', encodeEfiString(esp.guid.toUpperCase()), {
    vendor: systemdLoaderVendor,
    attributes: volatileAttributes,
  });
  await store.write('LoaderImageIdentifier', encodeEfiString(choice.loaderPath), {
    vendor: systemdLoaderVendor,
    attributes: volatileAttributes,
  });
  return { choice, skipped };
}

/** Reads and deletes BootNext: it is consumed even if the boot it names then fails. */
async function consumeBootNext(
  store: EfiVariableStore,
  variables: BootVariables,
  serial: Pick<ConsoleLog, 'print'>,
): Promise<number | null> {
  if ((await store.tryRead('BootNext')) === undefined) return null;
  let bootNext: number | null = null;
  try {
    bootNext = await variables.bootNext();
  } catch (error) {
    await serial.print(`firmware: BootNext unreadable, ignored: ${errorMessage(error)}`);
  }
  await store.delete('BootNext');
  if (bootNext !== null) {
    await serial.print(`firmware: BootNext is Boot${formatBootId(bootNext)}; deleted it`);
  }
  return bootNext;
}

/**
 * Looks a loader up on the ESP as the FAT driver would (names are case-insensitive) and decodes
 * it. Undefined when there is no such file.
 */
async function probeLoader(esp: string, efiPath: string): Promise<LoaderProbe | undefined> {
  const file = await resolveOnEsp(esp, efiPath);
  if (file === undefined) return undefined;
  const info = await lstat(file);
  if (!info.isFile()) return { failure: 'not a file' };
  if (info.size > maxProcessLoaderBytes) {
    return { failure: `not a process loader (${String(info.size)} bytes)` };
  }
  const handle = await open(file, 'r');
  try {
    const bytes = await handle.readFile();
    return { loader: parseProcessLoader(bytes) };
  } catch (error) {
    return { failure: errorMessage(error) };
  } finally {
    await handle.close();
  }
}

async function resolveOnEsp(esp: string, efiPath: string): Promise<string | undefined> {
  const parts = efiPath.split('\\').filter((part) => part !== '');
  // UEFI paths use backslashes only; `.`, `..` or `/` would also let a path leave the ESP.
  if (parts.length === 0 || parts.some((part) => /^\.\.?$|[/\0]/.test(part))) return undefined;
  let current = esp;
  for (const part of parts) {
    const names = await readdir(current).catch(() => undefined);
    if (names === undefined) return undefined;
    const match = names.includes(part)
      ? part
      : names.find((name) => name.toLowerCase() === part.toLowerCase());
    if (match === undefined) return undefined;
    current = join(current, match);
  }
  return current;
}

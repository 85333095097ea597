// The UEFI boot manager's choice of what to boot (UEFI 2.10 §3.1.1-3.1.3, §3.5.1.1), as a pure
// function over the variables and the loader files, so the rules are testable without processes.
import {
  devicePathToText,
  filePath,
  formatBootId,
  hardDriveGpt,
  loadOptionActive,
  type DevicePath,
  type LoadOption,
} from '@metropolis/efi';
import {
  cmdlineForSlot,
  slotFromLoaderPath,
  type ProcessLoader,
  type SystemSlot,
} from '@metropolis/api';

/** The removable-media boot path of x64 (UEFI 2.10 §3.5.1.1). */
export const removableLoaderPath = '\\EFI\\BOOT\\BOOTX64.EFI';

/** Which rule made the firmware try a loader. */
export type BootVia = 'BootNext' | 'BootOrder' | 'removable';

/** The ESP's GPT entry, as disk.json records it. Start and size are in 512-byte LBAs. */
export interface EspPartition {
  readonly partitionNumber: number;
  readonly start: number;
  readonly size: number;
  /** Unique partition GUID, lowercase. */
  readonly guid: string;
}

/** What the firmware found at a loader path: a loader it can start, or why not. */
export type LoaderProbe = { readonly loader: ProcessLoader } | { readonly failure: string };

export interface BootSelectionInput {
  /** BootNext as read before the firmware deleted it; null when absent or unreadable. */
  readonly bootNext: number | null;
  readonly bootOrder: readonly number[];
  /** Every Boot#### variable: its decoded option, or the error that kept it from decoding. */
  readonly entries: ReadonlyMap<number, LoadOption | Error>;
  readonly esp: EspPartition;
  /** Loader files by ESP path, exactly as the entries spell them; absent = file not found. */
  readonly loaders: ReadonlyMap<string, LoaderProbe>;
}

/** A boot option the firmware passed over, and why. */
export interface SkippedBootOption {
  readonly via: BootVia;
  /** `Boot####` number; null for the removable-media path. */
  readonly bootId: number | null;
  readonly reason: string;
}

/** The loader the firmware starts, with what the stub derives from it. */
export interface BootChoice {
  readonly via: BootVia;
  readonly bootId: number | null;
  /** The entry's description (`Metropolis Slot B`); for the removable path, the firmware's. */
  readonly description: string;
  /** UEFI text form of the device path, for the console. */
  readonly devicePath: string;
  /** ESP path of the loader with backslashes, e.g. `\EFI\metropolis\boot-b.efi`. */
  readonly loaderPath: string;
  readonly loader: ProcessLoader;
  readonly slot: SystemSlot;
  /** The loader's command line with the slot substituted. */
  readonly cmdline: string;
}

export interface BootSelection {
  /** Undefined when nothing is bootable. */
  readonly chosen: BootChoice | undefined;
  /** Options tried and passed over, in the order the firmware tried them. */
  readonly skipped: readonly SkippedBootOption[];
}

interface Candidate {
  /** `Boot0011` or `removable media`, for messages. */
  readonly label: string;
  readonly via: BootVia;
  readonly bootId: number | null;
  readonly description: string;
  readonly devicePath: string;
  /** ESP path, or undefined with `reason` when the option does not point at our ESP. */
  readonly loaderPath: string | undefined;
  readonly reason: string;
}

/**
 * Picks what to boot: BootNext's entry first, then BootOrder's entries in order, then the
 * removable-media path. An entry is bootable when it exists, decodes, is ACTIVE, its first
 * device path is `HD(GPT, ESP GUID)/File(...)`, and the file is a process loader.
 */
export function selectBoot(input: BootSelectionInput): BootSelection {
  const skipped: SkippedBootOption[] = [];
  for (const candidate of bootCandidates(input)) {
    const skip = (reason: string): void => {
      skipped.push({
        via: candidate.via,
        bootId: candidate.bootId,
        reason: `${candidate.label}: ${reason}`,
      });
    };
    if (candidate.loaderPath === undefined) {
      skip(candidate.reason);
      continue;
    }
    const probe = input.loaders.get(candidate.loaderPath);
    if (probe === undefined) {
      skip(`${candidate.loaderPath}: not found`);
      continue;
    }
    if ('failure' in probe) {
      skip(`${candidate.loaderPath}: ${probe.failure}`);
      continue;
    }
    const slot = slotFromLoaderPath(candidate.loaderPath);
    return {
      chosen: {
        via: candidate.via,
        bootId: candidate.bootId,
        description: candidate.description,
        devicePath: candidate.devicePath,
        loaderPath: candidate.loaderPath,
        loader: probe.loader,
        slot,
        cmdline: cmdlineForSlot(probe.loader.cmdline, slot),
      },
      skipped,
    };
  }
  return { chosen: undefined, skipped };
}

/** The ESP paths {@link selectBoot} may look up, so the firmware reads only those files. */
export function loaderPathsToProbe(input: Omit<BootSelectionInput, 'loaders'>): string[] {
  const paths = [...bootCandidates(input)].flatMap((c) => c.loaderPath ?? []);
  return [...new Set(paths)];
}

/**
 * The ESP file an option boots: its first device path must be `HD(GPT, ESP GUID)` followed by
 * file path nodes (concatenated, UEFI 2.10 §10.3.5.4). Paths for other devices (PciRoot,
 * Fv/FvFile, MAC, ...) are valid options, but nothing here can boot them.
 */
export function espLoaderPath(
  option: LoadOption,
  espGuid: string,
): { readonly path: string } | { readonly reason: string } {
  const [first] = option.filePaths;
  if (first === undefined) return { reason: 'no device path' };
  // A multi-instance path boots from its first instance (UEFI 2.10 §10.3.1).
  const end = first.findIndex((node) => node.kind === 'endInstance');
  const [disk, ...files] = end === -1 ? first : first.slice(0, end);
  if (disk?.kind !== 'hardDrive') return { reason: 'not a hard drive path' };
  if (disk.partition.format !== 'gpt') return { reason: 'not a GPT partition' };
  if (disk.partition.guid.toLowerCase() !== espGuid.toLowerCase()) {
    return { reason: `partition ${disk.partition.guid} is not this disk's ESP` };
  }
  if (files.length === 0) return { reason: 'no file path' };
  let path = '';
  for (const node of files) {
    if (node.kind !== 'filePath') return { reason: 'not a file path' };
    path += node.path;
  }
  return { path };
}

function* bootCandidates(input: Omit<BootSelectionInput, 'loaders'>): Generator<Candidate> {
  if (input.bootNext !== null) yield entryCandidate(input, 'BootNext', input.bootNext);
  for (const id of input.bootOrder) yield entryCandidate(input, 'BootOrder', id);
  const removable: DevicePath = [
    hardDriveGpt(
      input.esp.partitionNumber,
      BigInt(input.esp.start),
      BigInt(input.esp.size),
      input.esp.guid,
    ),
    filePath(removableLoaderPath),
  ];
  yield {
    label: 'removable media',
    via: 'removable',
    bootId: null,
    description: 'removable media',
    devicePath: devicePathToText(removable),
    loaderPath: removableLoaderPath,
    reason: '',
  };
}

function entryCandidate(
  input: Omit<BootSelectionInput, 'loaders'>,
  via: BootVia,
  id: number,
): Candidate {
  const name = `Boot${formatBootId(id)}`;
  const entry = input.entries.get(id);
  const unbootable = (reason: string, description = '', devicePath = ''): Candidate => ({
    label: name,
    via,
    bootId: id,
    description,
    devicePath,
    loaderPath: undefined,
    reason,
  });
  if (entry === undefined) return unbootable('does not exist');
  if (entry instanceof Error) return unbootable(`does not decode: ${entry.message}`);
  const [first] = entry.filePaths;
  const devicePath = first === undefined ? '' : devicePathToText(first);
  if ((entry.attributes & loadOptionActive) === 0) {
    return unbootable('not active', entry.description, devicePath);
  }
  const target = espLoaderPath(entry, input.esp.guid);
  if ('reason' in target) {
    return unbootable(`${target.reason}: ${devicePath}`, entry.description, devicePath);
  }
  return {
    label: name,
    via,
    bootId: id,
    description: entry.description,
    devicePath,
    loaderPath: target.path,
    reason: '',
  };
}

// The node directory: one place that names every file standing in for a partition, and creates
// the layout of a new node (or checks an existing one) before its first power-on.
import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import {
  loaderEfiPath,
  loaderDirSegments,
  parametersSegments,
  type NodeLayoutRoots,
  type SystemSlot,
} from '@metropolis/api';
import { removableLoaderPath, type EspPartition } from './boot-selection.js';
import { ProcessNodeError } from './errors.js';
import { writeSystemImage } from './system-image.js';

/** Absolute paths of a node directory's parts. */
export interface NodeLayout {
  readonly dir: string;
  /** The emulated GPT ({@link EmulatedDisk}), written once. */
  readonly disk: string;
  /** The mounted ESP. */
  readonly esp: string;
  /** efivarfs: `Name-GUID` files, 4 bytes of attributes then the data. */
  readonly efivars: string;
  readonly systemA: string;
  readonly systemB: string;
  /** The persistent data partition. */
  readonly data: string;
  /** Cleared at every boot, like a tmpfs. */
  readonly run: string;
  /** The kernel command line of the running boot (`/proc/cmdline`). */
  readonly cmdline: string;
  /** The mounted system image of the running boot. */
  readonly rootfs: string;
  /** The serial console: firmware messages and the agent's output, across boots. */
  readonly consoleLog: string;
  /** One {@link BootRecord} JSON line per boot attempt. */
  readonly bootsLog: string;
  /** Node parameters on the ESP, read by the agent. */
  readonly parameters: string;
}

/** disk.json: what a real agent would read from the GPT. */
export interface EmulatedDisk {
  readonly esp: EspPartition;
  /** Bytes of each system slot file. */
  readonly slotSize: number;
}

/** Default slot size: 256 MiB, as Monogon's update test disk. */
export const defaultSlotSize = 256 * 1024 * 1024;

/** The ESP of a fresh node: partition 1 at 1 MiB, 128 MiB long (in 512-byte LBAs). */
const espStart = 2048;
const espSize = 262_144;

/** Binds the layout to `dir` (made absolute); touches nothing. */
export function nodeLayout(dir: string): NodeLayout {
  const root = resolve(dir);
  const run = join(root, 'run');
  const esp = join(root, 'esp');
  return {
    dir: root,
    disk: join(root, 'disk.json'),
    esp,
    efivars: join(root, 'efivars'),
    systemA: join(root, 'system-a'),
    systemB: join(root, 'system-b'),
    data: join(root, 'data'),
    run,
    cmdline: join(run, 'cmdline'),
    rootfs: join(run, 'rootfs'),
    consoleLog: join(root, 'console.log'),
    bootsLog: join(root, 'boots.jsonl'),
    parameters: join(esp, ...parametersSegments),
  };
}

/** The node directory as the agent's storage roots: what the agent is started on. */
export function agentRoots(layout: NodeLayout): NodeLayoutRoots {
  return {
    efivarfs: layout.efivars,
    esp: layout.esp,
    systemA: layout.systemA,
    systemB: layout.systemB,
    data: layout.data,
    disk: layout.disk,
    cmdline: layout.cmdline,
  };
}

/** The slot file of `slot`. */
export function slotPath(layout: NodeLayout, slot: SystemSlot): string {
  return slot === 'A' ? layout.systemA : layout.systemB;
}

/**
 * Creates whatever is missing of the layout: directories, disk.json (a random ESP GUID), and
 * sparse slot files of exactly `slotSize` bytes. An existing node keeps its disk.json.
 * @throws {ProcessNodeError} `NODE_DIR_INVALID` when disk.json or a slot file does not fit, or
 *   `slotSize` was given and differs from the existing node's.
 */
export async function prepareNodeDirectory(
  layout: NodeLayout,
  slotSize?: number,
): Promise<EmulatedDisk> {
  await Promise.all(
    [layout.efivars, layout.data, layout.run, join(layout.esp, 'EFI', 'BOOT')].map((path) =>
      mkdir(path, { recursive: true }),
    ),
  );
  await mkdir(join(layout.esp, ...loaderDirSegments), { recursive: true });
  await mkdir(join(layout.esp, ...parametersSegments.slice(0, -1)), { recursive: true });
  const disk = await readDisk(layout.disk);
  if (disk !== undefined && slotSize !== undefined && slotSize !== disk.slotSize) {
    throw new ProcessNodeError(
      'NODE_DIR_INVALID',
      `${layout.disk} has slotSize ${String(disk.slotSize)}, not ${String(slotSize)}`,
    );
  }
  const chosen = disk ?? {
    esp: { partitionNumber: 1, start: espStart, size: espSize, guid: randomUUID() },
    slotSize: slotSize ?? defaultSlotSize,
  };
  if (disk === undefined) {
    await writeFile(layout.disk, `${JSON.stringify(chosen, null, 2)}\n`, { flag: 'wx' });
  }
  for (const path of [layout.systemA, layout.systemB]) await ensureSlot(path, chosen.slotSize);
  return chosen;
}

async function ensureSlot(path: string, size: number): Promise<void> {
  const existing = await stat(path).catch(() => undefined);
  if (existing === undefined) {
    const file = await open(path, 'wx');
    try {
      await file.truncate(size);
    } finally {
      await file.close();
    }
  } else if (!existing.isFile() || existing.size !== size) {
    throw new ProcessNodeError(
      'NODE_DIR_INVALID',
      `${path} is not a file of exactly ${String(size)} bytes`,
    );
  }
}

async function readDisk(path: string): Promise<EmulatedDisk | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return undefined;
    throw new ProcessNodeError('NODE_DIR_INVALID', `cannot read ${path}`, { cause: error });
  }
  const invalid = (reason: string): ProcessNodeError =>
    new ProcessNodeError('NODE_DIR_INVALID', `${path}: ${reason}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new ProcessNodeError('NODE_DIR_INVALID', `${path} is not JSON`, { cause });
  }
  if (!isRecord(value) || !isRecord(value.esp)) throw invalid('no esp object');
  const { partitionNumber, start, size, guid } = value.esp;
  const { slotSize } = value;
  if (!isCount(partitionNumber) || !isCount(start) || !isCount(size) || !isCount(slotSize)) {
    throw invalid('partitionNumber, start, size and slotSize must be positive integers');
  }
  if (typeof guid !== 'string' || !/^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i.test(guid)) {
    throw invalid('esp.guid is not a GUID');
  }
  return { esp: { partitionNumber, start, size, guid: guid.toLowerCase() }, slotSize };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

/**
 * Installs a node as Monogon's installer does, on a node that is off: the system image into
 * slot A, the loader to `\EFI\BOOT\BOOTX64.EFI` and `\EFI\metropolis\boot-a.efi`. No
 * `Boot####` entries: the agent creates them on its first good boot.
 */
export async function installSystem(
  layout: NodeLayout,
  disk: EmulatedDisk,
  files: { readonly systemImage: string; readonly loader: string },
): Promise<void> {
  await writeSystemImage(layout.systemA, files.systemImage, disk.slotSize);
  for (const efiPath of [removableLoaderPath, loaderEfiPath('A')]) {
    const target = join(layout.esp, ...efiPath.split('\\').filter((part) => part !== ''));
    await mkdir(dirname(target), { recursive: true });
    await copyFile(files.loader, target);
  }
}

// Process-flavour system images: an uncompressed tar at offset 0 of a slot file, zero padding
// after it. "Mounting" one extracts it; like a kernel that cannot mount root, a bad one fails.
import { createReadStream } from 'node:fs';
import { lstat, open, readFile, truncate, writeFile } from 'node:fs/promises';
import { isAbsolute, join, normalize, sep } from 'node:path';
import { extract } from 'tar';
import { ProcessNodeError } from './errors.js';

/** The program every system image must carry at its root. */
export const nodeAgentFile = 'node-agent.mjs';

const blockSize = 512;

/**
 * Extracts the system image in `slotPath` into `rootfs` (an empty directory).
 * @throws {ProcessNodeError} `SYSTEM_IMAGE_INVALID` when the slot holds no tar archive, an entry
 *   would land outside `rootfs`, or there is no `node-agent.mjs`.
 */
export async function mountSystemImage(slotPath: string, rootfs: string): Promise<void> {
  const length = await tarArchiveLength(slotPath);
  let escaped: string | undefined;
  const unpack = extract({
    cwd: rootfs,
    strict: true,
    preserveOwner: false,
    // node-tar refuses these too; checking here gives the boot record a clear reason.
    filter: (path) => {
      if (isAbsolute(path) || normalize(path).split(sep).includes('..')) escaped ??= path;
      return escaped === undefined;
    },
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const source = createReadStream(slotPath, { start: 0, end: length - 1 });
      source.on('error', reject);
      unpack.on('error', reject);
      unpack.on('close', resolve);
      source.pipe(unpack);
    });
  } catch (cause) {
    throw new ProcessNodeError(
      'SYSTEM_IMAGE_INVALID',
      `cannot extract system image: ${String(cause)}`,
      {
        cause,
      },
    );
  }
  if (escaped !== undefined) {
    throw new ProcessNodeError(
      'SYSTEM_IMAGE_INVALID',
      `system image entry escapes the root: ${escaped}`,
    );
  }
  const agent = await lstat(join(rootfs, nodeAgentFile)).catch(() => undefined);
  if (!agent?.isFile()) {
    throw new ProcessNodeError('SYSTEM_IMAGE_INVALID', `system image has no ${nodeAgentFile}`);
  }
}

/**
 * Writes the tar at `imagePath` into a slot file as an installer or updater would: at offset 0,
 * the slot keeping exactly `slotSize` bytes with zeros (sparse) after the image.
 * @throws {ProcessNodeError} `SYSTEM_IMAGE_TOO_LARGE` when the image does not fit.
 */
export async function writeSystemImage(
  slotPath: string,
  imagePath: string,
  slotSize: number,
): Promise<void> {
  const image = await readFile(imagePath);
  if (image.length > slotSize) {
    throw new ProcessNodeError(
      'SYSTEM_IMAGE_TOO_LARGE',
      `system image of ${String(image.length)} bytes does not fit a ${String(slotSize)}-byte slot`,
    );
  }
  await writeFile(slotPath, image);
  await truncate(slotPath, slotSize);
}

/**
 * Bytes of the tar archive at the start of a slot, found by walking its headers: the slot is
 * mostly zeros, and streaming them all through the extractor would cost a full read.
 */
async function tarArchiveLength(slotPath: string): Promise<number> {
  const invalid = (reason: string): ProcessNodeError =>
    new ProcessNodeError('SYSTEM_IMAGE_INVALID', `no system image in ${slotPath}: ${reason}`);
  const file = await open(slotPath, 'r');
  try {
    const { size: fileSize } = await file.stat();
    const block = Buffer.alloc(blockSize);
    let position = 0;
    let entries = 0;
    for (;;) {
      const { bytesRead } = await file.read(block, 0, blockSize, position);
      if (bytesRead < blockSize) {
        // The end-of-archive blocks may be cut off by the end of the slot; an entry may not.
        if (bytesRead === 0 && entries > 0) return position;
        throw invalid(`truncated at byte ${String(position)}`);
      }
      if (block.every((byte) => byte === 0)) {
        if (entries === 0) throw invalid('the slot is empty');
        return Math.min(position + 2 * blockSize, fileSize);
      }
      if (!checksumValid(block)) {
        throw invalid(`no valid tar header at byte ${String(position)}`);
      }
      const size = entrySize(block);
      if (size === undefined) throw invalid(`bad entry size at byte ${String(position)}`);
      position += blockSize + Math.ceil(size / blockSize) * blockSize;
      if (position > fileSize) throw invalid('an entry runs past the end of the slot');
      entries++;
    }
  } finally {
    await file.close();
  }
}

/** POSIX ustar checksum: the header's bytes summed with the checksum field read as spaces. */
function checksumValid(header: Buffer): boolean {
  const stored = parseOctal(header.subarray(148, 156));
  if (stored === undefined) return false;
  let sum = 0;
  for (let i = 0; i < blockSize; i++) sum += i >= 148 && i < 156 ? 0x20 : (header[i] ?? 0);
  return sum === stored;
}

/** The size field: octal, or GNU base-256 when the top bit of its first byte is set. */
function entrySize(header: Buffer): number | undefined {
  const field = header.subarray(124, 136);
  const first = field[0] ?? 0;
  if ((first & 0x80) === 0) return parseOctal(field);
  if (first === 0xff) return undefined; // negative
  let value = first & 0x7f;
  for (const byte of field.subarray(1)) value = value * 256 + byte;
  return Number.isSafeInteger(value) ? value : undefined;
}

function parseOctal(field: Buffer): number | undefined {
  const text = field
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .trimStart();
  if (text === '') return 0;
  return /^[0-7]+$/.test(text) ? Number.parseInt(text, 8) : undefined;
}

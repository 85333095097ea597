// EFI_LOAD_OPTION (UEFI spec 2.10 section 3.1.3), the value of Boot#### variables: decoded
// without loss, so a foreign entry re-encodes byte for byte.
import { ByteReader } from './byte-reader.js';
import { checkUint } from './byte-writer.js';
import { devicePathToText } from './device-path-text.js';
import type { DevicePath } from './device-path-node.js';
import { decodeDevicePathAt, encodeDevicePath } from './device-path.js';
import { decodeUtf16, encodeUtf16 } from './efi-string.js';
import { EfiError } from './errors.js';

/** LOAD_OPTION_ACTIVE: the boot manager may boot this entry. */
export const loadOptionActive = 0x1;

export interface LoadOption {
  /** Bit 0 = LOAD_OPTION_ACTIVE; all other bits (HIDDEN, CATEGORY, ...) are kept as they are. */
  readonly attributes: number;
  /** Shown in firmware boot menus. Any UTF-16 text without NUL. */
  readonly description: string;
  /**
   * FilePathList, one element per End Entire terminated device path. The first is the boot
   * path; further elements are preserved. End Instance nodes stay inside their element as
   * `endInstance` nodes. Empty only for a FilePathListLength of 0.
   */
  readonly filePaths: readonly DevicePath[];
  /** Everything after FilePathList, byte for byte; empty if none. */
  readonly optionalData: Uint8Array;
}

const fixedHeaderLength = 6;

function malformed(message: string): EfiError {
  return new EfiError('EFI_MALFORMED', message);
}

/**
 * Decodes a Boot#### value. The description ends at the first 2-byte-aligned 00 00 (an
 * unaligned search would split characters such as U+0100). Throws EFI_MALFORMED, naming the
 * problem and its byte offset, for anything that would not re-encode to the same bytes.
 */
export function decodeLoadOption(bytes: Uint8Array): LoadOption {
  if (bytes.length < fixedHeaderLength) {
    throw malformed(`load option is ${String(bytes.length)} bytes, shorter than its 6-byte header`);
  }
  const reader = new ByteReader(bytes);
  const attributes = reader.u32(0);
  const filePathListLength = reader.u16(4);
  let descriptionEnd = -1;
  for (let offset = fixedHeaderLength; offset + 1 < bytes.length; offset += 2) {
    if (bytes[offset] === 0 && bytes[offset + 1] === 0) {
      descriptionEnd = offset;
      break;
    }
  }
  if (descriptionEnd === -1) {
    throw malformed(`load option description starting at offset 6 has no NUL terminator`);
  }
  const description = decodeUtf16(bytes, fixedHeaderLength, descriptionEnd);
  const listStart = descriptionEnd + 2;
  const listEnd = listStart + filePathListLength;
  if (listEnd > bytes.length) {
    throw malformed(
      `load option FilePathList at offset ${String(listStart)} has length ${String(filePathListLength)} but only ${String(bytes.length - listStart)} bytes are left`,
    );
  }
  const filePaths: DevicePath[] = [];
  for (let offset = listStart; offset < listEnd;) {
    const { path, next } = decodeDevicePathAt(bytes, offset, listEnd);
    filePaths.push(path);
    offset = next;
  }
  return {
    attributes,
    description,
    filePaths,
    optionalData: reader.copy(listEnd, bytes.length - listEnd),
  };
}

/** The Boot#### value of `option`. Throws EFI_INVALID_ARGUMENT for values it cannot hold. */
export function encodeLoadOption(option: LoadOption): Uint8Array {
  checkUint(option.attributes, 0xffff_ffff, 'load option attributes');
  if (option.description.includes('\0')) {
    throw new EfiError('EFI_INVALID_ARGUMENT', 'load option description contains a NUL');
  }
  const description = encodeUtf16(option.description, true);
  const paths = option.filePaths.map((path) => encodeDevicePath(path));
  const filePathListLength = paths.reduce((sum, path) => sum + path.length, 0);
  if (filePathListLength > 0xffff) {
    throw new EfiError(
      'EFI_INVALID_ARGUMENT',
      `load option FilePathList would be ${String(filePathListLength)} bytes, more than 65535`,
    );
  }
  const out = new Uint8Array(
    fixedHeaderLength + description.length + filePathListLength + option.optionalData.length,
  );
  const view = new DataView(out.buffer);
  view.setUint32(0, option.attributes, true);
  view.setUint16(4, filePathListLength, true);
  let offset = fixedHeaderLength;
  for (const part of [description, ...paths, option.optionalData]) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * The device path text of an option, as `bcfg boot dump -v` prints it. Further FilePathList
 * elements, which EDK2 does not print, follow as further instances: `,/` then their text.
 */
export function loadOptionToText(option: LoadOption): string {
  return option.filePaths.map((path) => devicePathToText(path)).join(',/');
}

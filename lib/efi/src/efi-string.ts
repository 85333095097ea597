// UCS-2/UTF-16LE strings as EFI stores them (load option descriptions, file paths, systemd's
// Loader* variables). Code units map 1:1 to JS string units, so even lone surrogates survive.
import { EfiError } from './errors.js';

/** The string of the UTF-16LE code units in `bytes[start, end)`; `end - start` must be even. */
export function decodeUtf16(bytes: Uint8Array, start: number, end: number): string {
  const units: string[] = [];
  for (let offset = start; offset + 1 < end; offset += 2) {
    units.push(String.fromCharCode((bytes[offset] ?? 0) | ((bytes[offset + 1] ?? 0) << 8)));
  }
  return units.join('');
}

/** UTF-16LE code units of `text`, with a terminating NUL when `terminate`. */
export function encodeUtf16(text: string, terminate: boolean): Uint8Array {
  const bytes = new Uint8Array(2 * (text.length + (terminate ? 1 : 0)));
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    bytes[2 * index] = unit & 0xff;
    bytes[2 * index + 1] = unit >> 8;
  }
  return bytes;
}

/**
 * The value of a string variable such as systemd's `LoaderImageIdentifier`: UTF-16LE with one
 * trailing NUL, which is removed if present. Throws EFI_MALFORMED for an odd byte count.
 */
export function decodeEfiString(data: Uint8Array): string {
  if (data.length % 2 !== 0) {
    throw new EfiError(
      'EFI_MALFORMED',
      `UTF-16 string has an odd length of ${String(data.length)} bytes`,
    );
  }
  const text = decodeUtf16(data, 0, data.length);
  return text.endsWith('\0') ? text.slice(0, -1) : text;
}

/** `text` as a NUL-terminated UTF-16LE string variable value. */
export function encodeEfiString(text: string): Uint8Array {
  return encodeUtf16(text, true);
}

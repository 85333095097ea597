// GUIDs as EFI stores them: Microsoft mixed-endian, the first three fields little-endian
// (UEFI spec appendix A), so the text form and the 16 bytes differ in order.
import { EfiError } from './errors.js';

const guidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Disk byte i holds canonical (text-order) byte diskOrder[i]; the permutation is its own inverse.
const diskOrder = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15] as const;

/** Whether `text` is a GUID in the 8-4-4-4-12 hex form (any case). */
export function isGuid(text: string): boolean {
  return guidPattern.test(text);
}

/** The 16 on-disk bytes of a GUID. Throws EFI_INVALID_ARGUMENT for anything but 8-4-4-4-12 hex. */
export function guidToBytes(guid: unknown, what = 'GUID'): Uint8Array {
  if (typeof guid !== 'string' || !isGuid(guid)) {
    throw new EfiError('EFI_INVALID_ARGUMENT', `${what} ${JSON.stringify(guid)} is not a GUID`);
  }
  const canonical = Buffer.from(guid.replaceAll('-', ''), 'hex');
  return Uint8Array.from(diskOrder, (index) => canonical[index] ?? 0);
}

/** The lowercase canonical text of the 16 on-disk bytes at `offset` (the caller checks bounds). */
export function guidFromBytes(bytes: Uint8Array, offset = 0): string {
  const hex = diskOrder.map((index) => (bytes[offset + index] ?? 0).toString(16).padStart(2, '0'));
  const text = hex.join('');
  return `${text.slice(0, 8)}-${text.slice(8, 12)}-${text.slice(12, 16)}-${text.slice(16, 20)}-${text.slice(20)}`;
}

// Little-endian writes into a fixed-size buffer, checking every value's type and range first so
// that bad input becomes EFI_INVALID_ARGUMENT naming the field, never a silently wrapped number.
import { EfiError } from './errors.js';
import { guidToBytes } from './guid-bytes.js';

/** Throws EFI_INVALID_ARGUMENT unless `value` is an integer in 0..max. */
export function checkUint(value: unknown, max: number, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new EfiError(
      'EFI_INVALID_ARGUMENT',
      `${what} must be an integer 0..${String(max)}, got ${String(value)}`,
    );
  }
  return value;
}

const u64Max = (1n << 64n) - 1n;

/** A zero-filled buffer of `size` bytes with checked little-endian setters. */
export class ByteWriter {
  readonly bytes: Uint8Array;
  readonly #view: DataView;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.#view = new DataView(this.bytes.buffer);
  }

  u8(offset: number, value: unknown, what: string): this {
    this.#view.setUint8(offset, checkUint(value, 0xff, what));
    return this;
  }

  u16(offset: number, value: unknown, what: string): this {
    this.#view.setUint16(offset, checkUint(value, 0xffff, what), true);
    return this;
  }

  u32(offset: number, value: unknown, what: string): this {
    this.#view.setUint32(offset, checkUint(value, 0xffff_ffff, what), true);
    return this;
  }

  u64(offset: number, value: unknown, what: string): this {
    if (typeof value !== 'bigint' || value < 0n || value > u64Max) {
      throw new EfiError(
        'EFI_INVALID_ARGUMENT',
        `${what} must be a bigint 0..2^64-1, got ${String(value)}`,
      );
    }
    this.#view.setBigUint64(offset, value, true);
    return this;
  }

  /** Copies `value`, which must be exactly `length` bytes. */
  fixed(offset: number, value: Uint8Array, length: number, what: string): this {
    if (!(value instanceof Uint8Array) || value.length !== length) {
      throw new EfiError('EFI_INVALID_ARGUMENT', `${what} must be ${String(length)} bytes`);
    }
    this.bytes.set(value, offset);
    return this;
  }

  guid(offset: number, value: unknown, what: string): this {
    this.bytes.set(guidToBytes(value, what), offset);
    return this;
  }
}

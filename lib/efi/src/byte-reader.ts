// Little-endian reads from a byte range whose bounds the caller has already checked; the
// device-path and load-option decoders build on it.
import { guidFromBytes } from './guid-bytes.js';

/** A read-only little-endian view of `bytes`. Reads outside the view throw a RangeError. */
export class ByteReader {
  readonly bytes: Uint8Array;
  readonly #view: DataView;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.length;
  }

  u8(offset: number): number {
    return this.#view.getUint8(offset);
  }

  u16(offset: number): number {
    return this.#view.getUint16(offset, true);
  }

  u32(offset: number): number {
    return this.#view.getUint32(offset, true);
  }

  u64(offset: number): bigint {
    return this.#view.getBigUint64(offset, true);
  }

  /**
   * A copy, so decoded values never alias the caller's buffer. A plain Uint8Array even for a
   * Buffer, whose slice() would share memory.
   */
  copy(offset: number, length: number): Uint8Array {
    return new Uint8Array(this.bytes.subarray(offset, offset + length));
  }

  guid(offset: number): string {
    return guidFromBytes(this.bytes, offset);
  }
}

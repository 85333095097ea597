// Pulls exact byte counts out of an async stream of arbitrarily sized chunks, counting every
// byte it hands out (the bundle reader hashes them: see read-bundle.ts).
import { errorMessage } from '@metropolis/errors';
import { BundleError } from './errors.js';

const empty = new Uint8Array(0);

/**
 * Sequential reader over a bundle source; not safe for concurrent calls. It asks the source for
 * the next chunk only once every byte of the last one was handed out.
 */
export class ByteReader {
  readonly #iterator: AsyncIterator<unknown>;
  #pending: Uint8Array = empty;
  #ended = false;
  #offset = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#iterator = source[Symbol.asyncIterator]();
  }

  /** Bytes handed out so far, i.e. the offset of the next byte in the bundle. */
  get offset(): number {
    return this.#offset;
  }

  /**
   * Up to `max` bytes (a view into the source's chunk, no copy), or undefined once the source
   * has ended. Never returns an empty array.
   */
  async read(max: number): Promise<Uint8Array | undefined> {
    while (this.#pending.length === 0) {
      if (this.#ended) return undefined;
      await this.#pull();
    }
    const chunk = this.#pending.subarray(0, max);
    this.#pending = this.#pending.subarray(chunk.length);
    this.#offset += chunk.length;
    return chunk;
  }

  /** Up to `length` bytes, copied into one array; fewer only when the source ends. */
  async readUpTo(length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const chunk = await this.read(length - filled);
      if (chunk === undefined) return out.subarray(0, filled);
      out.set(chunk, filled);
      filled += chunk.length;
    }
    return out;
  }

  /**
   * Exactly `length` bytes.
   * @throws BundleError BUNDLE_TRUNCATED naming `what` when the source ends first.
   */
  async readExactly(length: number, what: string): Promise<Uint8Array> {
    const start = this.#offset;
    const bytes = await this.readUpTo(length);
    if (bytes.length < length) throw this.truncated(what, length - bytes.length, start);
    return bytes;
  }

  /** The BUNDLE_TRUNCATED error for `missing` bytes of `what` (which started at `start`). */
  truncated(what: string, missing: number, start: number): BundleError {
    return new BundleError(
      'BUNDLE_TRUNCATED',
      `bundle is truncated: it ends after ${String(this.#offset)} bytes, ${String(missing)} bytes short of the end of ${what} (which starts at byte ${String(start)})`,
    );
  }

  /**
   * Succeeds only if the source holds no further bytes; drains it to find out.
   * @throws BundleError BUNDLE_TRAILING_DATA.
   */
  async expectEnd(): Promise<void> {
    const extra = await this.read(1);
    if (extra !== undefined) {
      throw new BundleError(
        'BUNDLE_TRAILING_DATA',
        `bundle has data after its last payload, from byte ${String(this.#offset - 1)} on`,
      );
    }
  }

  /** Tells the source we stop early (closes a download), unless it has ended by itself. */
  async cancel(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    try {
      await this.#iterator.return?.();
    } catch {
      // The bundle is already being refused for a better reason than the source's cleanup.
    }
  }

  async #pull(): Promise<void> {
    let result: IteratorResult<unknown>;
    try {
      result = await this.#iterator.next();
    } catch (cause) {
      this.#ended = true;
      throw new BundleError(
        'BUNDLE_READ_FAILED',
        `reading the bundle failed after ${String(this.#offset)} bytes: ${errorMessage(cause)}`,
        { cause },
      );
    }
    if (result.done === true) {
      this.#ended = true;
      return;
    }
    if (!(result.value instanceof Uint8Array)) {
      throw new BundleError(
        'BUNDLE_READ_FAILED',
        'bundle source yielded something other than bytes (a stream in text mode?)',
      );
    }
    this.#pending = result.value;
  }
}

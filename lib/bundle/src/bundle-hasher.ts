// sha256 of the whole bundle and of the current payload. For large bundles on a worker thread, so
// hashing runs beside the download and the disk writes instead of stalling the event loop that
// drives them; small ones are hashed in place, where starting a worker would cost more.
import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { errorMessage } from '@metropolis/errors';
import { BundleError } from './errors.js';

// Plain JavaScript evaluated by the worker: it runs the same from TypeScript source and inside the
// agent's esbuild chunks, where a worker module would need an entry point of its own. The bytes arrive and go back by transfer, never
// copied; both hashes read each 1 MiB piece while it is still in the CPU cache.
const workerSource = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const piece = 1 << 20;
let whole = createHash('sha256');
let payload = createHash('sha256');
parentPort.on('message', ({ id, op, bytes, inPayload }) => {
  if (op === 'update') {
    for (let start = 0; start < bytes.length; start += piece) {
      const part = bytes.subarray(start, start + piece);
      whole.update(part);
      if (inPayload) payload.update(part);
    }
    parentPort.postMessage({ id, bytes }, [bytes.buffer]);
  } else if (op === 'payload') {
    parentPort.postMessage({ id, digest: payload.digest('hex') });
    payload = createHash('sha256');
  } else {
    parentPort.postMessage({ id, digest: whole.digest('hex') });
  }
});
`;

/** One bundle's hashes; requests are answered in the order they were made. */
export interface BundleHasher {
  /**
   * Adds `bytes` to the whole-bundle hash and, with `payload`, to the current payload's. Takes
   * the memory of `bytes` (its whole ArrayBuffer, which must not be shared) and resolves with it
   * again, as the same view, once done: use the returned array from then on.
   */
  update(bytes: Uint8Array, payload: boolean): Promise<Uint8Array>;
  /** sha256 (hex) of the current payload; the next payload update starts a new one. */
  payloadDigest(): Promise<string>;
  /** sha256 (hex) of every byte passed to `update`. Call once, at the end. */
  wholeDigest(): Promise<string>;
  /** Ends a worker; pending requests reject. */
  close(): Promise<void>;
}

/** Bundles at least this large are hashed on a worker thread. */
export const offThreadHashBytes = 16 << 20;

/** A hasher for a bundle of `bundleBytes`. */
export function startBundleHasher(bundleBytes: number): BundleHasher {
  return bundleBytes >= offThreadHashBytes ? new WorkerHasher() : new InlineHasher();
}

class InlineHasher implements BundleHasher {
  readonly #whole: Hash = createHash('sha256');
  #payload: Hash = createHash('sha256');

  update(bytes: Uint8Array, payload: boolean): Promise<Uint8Array> {
    this.#whole.update(bytes);
    if (payload) this.#payload.update(bytes);
    return Promise.resolve(bytes);
  }

  payloadDigest(): Promise<string> {
    const digest = this.#payload.digest('hex');
    this.#payload = createHash('sha256');
    return Promise.resolve(digest);
  }

  wholeDigest(): Promise<string> {
    return Promise.resolve(this.#whole.digest('hex'));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

interface Waiting {
  readonly resolve: (answer: { bytes?: Uint8Array; digest?: string }) => void;
  readonly reject: (error: BundleError) => void;
}

class WorkerHasher implements BundleHasher {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, Waiting>();
  #next = 1;
  #failure: BundleError | undefined;

  constructor() {
    // No execArgv: the worker needs neither the parent's loaders nor its flags.
    this.#worker = new Worker(workerSource, { eval: true, execArgv: [] });
    this.#worker.on('message', (message: unknown) => {
      this.#answer(message);
    });
    this.#worker.on('error', (cause) => {
      this.#fail(cause);
    });
    this.#worker.on('exit', (code) => {
      this.#fail(new Error(`the hash worker exited with code ${String(code)}`));
    });
  }

  async update(bytes: Uint8Array, payload: boolean): Promise<Uint8Array> {
    const message = { op: 'update', bytes, inPayload: payload };
    const answer = await this.#request(message, [bytes.buffer]);
    if (answer.bytes === undefined) throw this.#fail('the hash worker lost a buffer');
    return answer.bytes;
  }

  async payloadDigest(): Promise<string> {
    return (await this.#request({ op: 'payload' })).digest ?? '';
  }

  async wholeDigest(): Promise<string> {
    return (await this.#request({ op: 'whole' })).digest ?? '';
  }

  async close(): Promise<void> {
    this.#fail(new Error('the hasher was closed'));
    await this.#worker.terminate();
  }

  #request(
    message: object,
    transfer: ArrayBufferLike[] = [],
  ): Promise<{ bytes?: Uint8Array; digest?: string }> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      // Only plain ArrayBuffers can be transferred; the reader's batches are.
      this.#worker.postMessage({ id, ...message }, transfer.filter(isArrayBuffer));
    });
  }

  #answer(message: unknown): void {
    if (typeof message !== 'object' || message === null || !('id' in message)) return;
    const { id } = message;
    if (typeof id !== 'number') return;
    const waiting = this.#waiting.get(id);
    if (waiting === undefined) return;
    this.#waiting.delete(id);
    const bytes =
      'bytes' in message && message.bytes instanceof Uint8Array ? message.bytes : undefined;
    const digest =
      'digest' in message && typeof message.digest === 'string' ? message.digest : undefined;
    waiting.resolve({ ...(bytes ? { bytes } : {}), ...(digest ? { digest } : {}) });
  }

  #fail(cause: unknown): BundleError {
    this.#failure ??= new BundleError(
      'BUNDLE_READ_FAILED',
      `hashing the bundle failed: ${errorMessage(cause)}`,
      { cause },
    );
    for (const waiting of this.#waiting.values()) waiting.reject(this.#failure);
    this.#waiting.clear();
    return this.#failure;
  }
}

function isArrayBuffer(buffer: ArrayBufferLike): buffer is ArrayBuffer {
  return buffer instanceof ArrayBuffer;
}

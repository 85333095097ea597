// sha256 of the whole bundle and of the current payload. For large bundles on two worker threads,
// so hashing runs beside the download and the disk writes instead of stalling the event loop that
// drives them; small ones are hashed in place, where starting workers would cost more.
import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { errorMessage } from '@metropolis/errors';
import { BundleError } from './errors.js';

// Plain JavaScript evaluated by the worker: the node agent ships as one bundled file, so there is
// no second module file a worker could load. One sha256 per worker; `digest` starts a new one.
const workerSource = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
let hash = createHash('sha256');
parentPort.on('message', ({ id, bytes }) => {
  if (bytes !== undefined) {
    hash.update(bytes);
    parentPort.postMessage({ id });
  } else {
    parentPort.postMessage({ id, digest: hash.digest('hex') });
    hash = createHash('sha256');
  }
});
`;

interface Waiting {
  readonly resolve: (digest: string) => void;
  readonly reject: (error: BundleError) => void;
}

/** One bundle's hashes; requests are answered in the order they were made. */
export interface BundleHasher {
  /**
   * Adds `bytes` to the whole-bundle hash and, with `payload`, to the current payload's. Resolves
   * once done with them: only then may the caller reuse their memory. Bytes over a
   * SharedArrayBuffer are shared with the workers, others copied.
   */
  update(bytes: Uint8Array, payload: boolean): Promise<void>;
  /** sha256 (hex) of the current payload; the next payload update starts a new one. */
  payloadDigest(): Promise<string>;
  /** sha256 (hex) of every byte passed to `update`. Call once, at the end. */
  wholeDigest(): Promise<string>;
  /** Ends the workers; pending requests reject. */
  close(): Promise<void>;
}

/** Bundles at least this large are hashed on worker threads. */
export const offThreadHashBytes = 16 << 20;

/** A hasher for a bundle of `bundleBytes`. */
export function startBundleHasher(bundleBytes: number): BundleHasher {
  return bundleBytes >= offThreadHashBytes ? new WorkerHasher() : new InlineHasher();
}

class InlineHasher implements BundleHasher {
  readonly #whole: Hash = createHash('sha256');
  #payload: Hash = createHash('sha256');

  update(bytes: Uint8Array, payload: boolean): Promise<void> {
    this.#whole.update(bytes);
    if (payload) this.#payload.update(bytes);
    return Promise.resolve();
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

/** The whole-bundle hash and the payload hash on a thread each: they run side by side. */
class WorkerHasher implements BundleHasher {
  readonly #whole = new HashThread();
  readonly #payload = new HashThread();

  async update(bytes: Uint8Array, payload: boolean): Promise<void> {
    await Promise.all([this.#whole.update(bytes), payload && this.#payload.update(bytes)]);
  }

  payloadDigest(): Promise<string> {
    return this.#payload.digest();
  }

  wholeDigest(): Promise<string> {
    return this.#whole.digest();
  }

  async close(): Promise<void> {
    await Promise.all([this.#whole.close(), this.#payload.close()]);
  }
}

/** One sha256 on a worker thread; requests are answered in order. */
class HashThread {
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

  async update(bytes: Uint8Array): Promise<void> {
    await this.#request({ bytes });
  }

  /** The sha256 (hex) so far; the next update starts a new one. */
  digest(): Promise<string> {
    return this.#request({});
  }

  async close(): Promise<void> {
    this.#fail(new Error('the hasher was closed'));
    await this.#worker.terminate();
  }

  #request(message: { bytes?: Uint8Array }): Promise<string> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const id = this.#next++;
    return new Promise<string>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#worker.postMessage({ id, ...message });
    });
  }

  #answer(message: unknown): void {
    if (typeof message !== 'object' || message === null || !('id' in message)) return;
    const { id } = message;
    if (typeof id !== 'number') return;
    const waiting = this.#waiting.get(id);
    if (waiting === undefined) return;
    this.#waiting.delete(id);
    waiting.resolve(
      'digest' in message && typeof message.digest === 'string' ? message.digest : '',
    );
  }

  #fail(cause: unknown): void {
    this.#failure ??= new BundleError(
      'BUNDLE_READ_FAILED',
      `hashing the bundle failed: ${errorMessage(cause)}`,
      { cause },
    );
    for (const waiting of this.#waiting.values()) waiting.reject(this.#failure);
    this.#waiting.clear();
  }
}

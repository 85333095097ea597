// An HTTP/1.1 GET over plain TCP whose body is read into two reused buffers (net's `onread`).
// node:http allocates a 64 KiB Buffer per socket read and copies it into another for the body;
// over a large download that garbage costs more CPU (garbage collection) than the bytes do.
import { connect, type Socket } from 'node:net';
import { HTTPParser } from 'http-parser-js';

export interface PlainHttpResponse {
  readonly status: number;
  /** Lowercase names; a repeated header's values joined with ", ". */
  readonly headers: ReadonlyMap<string, string>;
  /**
   * The body, decoded from chunked transfer coding if need be. Each chunk is a view into a buffer
   * that the next read reuses: it is valid until the iterator is asked for the next one.
   */
  readonly body: AsyncIterable<Uint8Array>;
  /** Closes the connection, also in the middle of the body. */
  destroy(): void;
}

export interface PlainHttpGetOptions {
  readonly signal?: AbortSignal;
  /** The connection fails after this long without data. */
  readonly idleTimeoutMs: number;
  /** The connection fails when it is not established within this long. @default idleTimeoutMs */
  readonly connectTimeoutMs?: number;
}

// One socket read at most; larger reads mean fewer callbacks, and the buffer lives one download.
const readBufferBytes = 1 << 20;

/**
 * GET `url` (http: only), without following redirects; resolves once the response head arrived.
 * @throws Error for a connection that fails, a malformed response, an abort.
 */
export function plainHttpGet(url: URL, options: PlainHttpGetOptions): Promise<PlainHttpResponse> {
  if (url.protocol !== 'http:') return Promise.reject(new Error(`not an http URL: ${url.href}`));
  return new Promise((resolve, reject) => {
    new Download(url, options, resolve, reject);
  });
}

/**
 * One request and its response. Socket reads go into two buffers in turn, so the socket reads on
 * while the consumer copies out of the other one; it pauses when the buffer it would fill next
 * still has views out (queued or handed to the consumer), and resumes once they are given back.
 */
class Download {
  readonly #buffers: readonly [Buffer, Buffer] = [
    Buffer.allocUnsafe(readBufferBytes),
    Buffer.allocUnsafe(readBufferBytes),
  ];
  /** Views into each buffer that are queued or with the consumer. */
  readonly #outstanding: [number, number] = [0, 0];
  /** The buffer the next socket read fills. */
  #filling: 0 | 1 = 0;
  #paused = false;
  readonly #parser = new HTTPParser(HTTPParser.RESPONSE);
  readonly #socket: Socket;
  /** Body views in order, each with the buffer it points into. */
  readonly #queue: { view: Uint8Array; buffer: 0 | 1 }[] = [];
  #head: ((response: PlainHttpResponse) => void) | undefined;
  #failHead: ((error: Error) => void) | undefined;
  #wake: (() => void) | undefined;
  #failure: Error | undefined;
  /** A final (non-1xx) response head arrived: its end is the end of the download. */
  #final = false;
  #complete = false;
  #received = 0;

  constructor(
    url: URL,
    options: PlainHttpGetOptions,
    resolve: (response: PlainHttpResponse) => void,
    reject: (error: Error) => void,
  ) {
    this.#head = resolve;
    this.#failHead = reject;
    // URL.hostname keeps the brackets of an IPv6 literal; connect wants the bare address.
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    this.#socket = connect({
      host,
      port: url.port === '' ? 80 : Number(url.port),
      onread: {
        // Asked after every read, for the buffer of the next one.
        buffer: () => this.#buffers[this.#filling],
        callback: (bytes: number) => this.#read(bytes),
      },
    });
    this.#parser[HTTPParser.kOnHeadersComplete] = (info) => this.#headers(info);
    this.#parser[HTTPParser.kOnBody] = (chunk, offset, length) => {
      this.#queue.push({ view: chunk.subarray(offset, offset + length), buffer: this.#filling });
      this.#outstanding[this.#filling] += 1;
    };
    this.#parser[HTTPParser.kOnMessageComplete] = () => {
      if (this.#final) this.#complete = true;
    };
    const { signal } = options;
    const onAbort = (): void => {
      this.#fail(new Error('the download was aborted', { cause: signal?.reason }));
    };
    if (signal?.aborted === true) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const connectTimeoutMs = options.connectTimeoutMs ?? options.idleTimeoutMs;
    // One listener (setTimeout adds one per call); the connection switches it to the idle limit.
    let connected = false;
    this.#socket.setTimeout(connectTimeoutMs);
    this.#socket.on('timeout', () => {
      this.#fail(
        new Error(
          connected
            ? `no data for ${String(options.idleTimeoutMs / 1000)} s`
            : `not connected within ${String(connectTimeoutMs / 1000)} s`,
        ),
      );
    });
    this.#socket.once('connect', () => {
      connected = true;
      this.#socket.setTimeout(options.idleTimeoutMs);
    });
    this.#socket.on('error', (error) => {
      this.#fail(error);
    });
    // Without a length or chunked coding, the body is everything up to the end of the connection.
    const closed = (): void => {
      if (!this.#complete)
        this.#fail(new Error(`the connection closed after ${String(this.#received)} bytes`));
    };
    this.#socket.on('end', () => {
      if (this.#final) this.#parser.finish();
      closed();
      this.#signal();
    });
    this.#socket.on('close', () => {
      signal?.removeEventListener('abort', onAbort);
      closed();
    });
    const target = `${url.pathname}${url.search}`;
    this.#socket.write(
      `GET ${target} HTTP/1.1\r\nHost: ${url.host}\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n`,
    );
  }

  #read(bytes: number): boolean {
    this.#received += bytes;
    const parsed = this.#parser.execute(this.#buffers[this.#filling], 0, bytes);
    // After the end of the body the parser reads on as if a next response began; that error
    // (and anything after the body) does not matter.
    if (parsed instanceof Error && !this.#complete) {
      this.#fail(new Error(`malformed HTTP response: ${parsed.message}`, { cause: parsed }));
      return false;
    }
    this.#filling = this.#filling === 0 ? 1 : 0;
    if (this.#queue.length > 0 || this.#complete) this.#signal();
    this.#paused = this.#complete || this.#outstanding[this.#filling] > 0;
    return !this.#paused;
  }

  /** The consumer is done with a view into `buffer`. */
  #release(buffer: 0 | 1): void {
    this.#outstanding[buffer] -= 1;
    const left = this.#outstanding[buffer];
    if (this.#paused && buffer === this.#filling && left === 0 && !this.#complete) {
      this.#paused = false;
      this.#socket.resume();
    }
  }

  #headers(info: { statusCode: number; headers: string[] }): number {
    // An interim answer (100 Continue, 103 Early Hints): the real one follows.
    if (info.statusCode < 200) return 1;
    this.#final = true;
    const headers = new Map<string, string>();
    for (let i = 0; i + 1 < info.headers.length; i += 2) {
      const name = (info.headers[i] ?? '').toLowerCase();
      const value = info.headers[i + 1] ?? '';
      const before = headers.get(name);
      headers.set(name, before === undefined ? value : `${before}, ${value}`);
    }
    const resolve = this.#head;
    this.#head = undefined;
    this.#failHead = undefined;
    resolve?.({
      status: info.statusCode,
      headers,
      body: this.#body(),
      destroy: () => {
        this.#complete = true;
        this.#socket.destroy();
      },
    });
    // 1: no body follows (a 204 or 304 carries none even with a length header).
    return info.statusCode === 204 || info.statusCode === 304 ? 1 : 0;
  }

  async *#body(): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        const next = this.#queue.shift();
        if (next !== undefined) {
          yield next.view;
          // Asked for the next one: the consumer is done with this view.
          this.#release(next.buffer);
          continue;
        }
        if (this.#failure !== undefined) throw this.#failure;
        if (this.#complete) return;
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
      }
    } finally {
      this.#complete = true;
      this.#socket.destroy();
    }
  }

  #fail(error: Error): void {
    // Once the body is complete, what happens to the connection no longer matters.
    if (this.#complete) return;
    this.#failure ??= error;
    this.#socket.destroy();
    const reject = this.#failHead;
    this.#head = undefined;
    this.#failHead = undefined;
    reject?.(error);
    this.#signal();
  }

  #signal(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

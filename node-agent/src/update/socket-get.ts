// A plain-HTTP GET whose body the kernel reads straight into one reused buffer (net `onread`): no
// Buffer per chunk, no HTTP parser copy, no stream. Only for the common case — a 2xx answer with
// a Content-Length and nothing else to decode; anything else is left to node:http (http-fetch.ts).
import { connect, type Socket } from 'node:net';

export interface SocketResponse {
  readonly status: number;
  /** Header values by lowercase name. */
  readonly headers: ReadonlyMap<string, string>;
  /** Exactly Content-Length bytes; each chunk is valid until the next one is asked for. */
  readonly body: AsyncIterable<Uint8Array>;
}

const readBufferBytes = 1 << 20;
const maxHeadBytes = 64 << 10;
const headEnd = Buffer.from('\r\n\r\n');

/**
 * GET `url` (http: only) over a socket of its own. Resolves with undefined, the socket closed,
 * when the answer is anything but 2xx with a Content-Length and an identity body: the caller
 * asks again with a full HTTP client.
 * @throws Error for an unreachable server or a connection that breaks before the head is read.
 */
export function socketGet(
  url: URL,
  options: { readonly signal?: AbortSignal; readonly idleTimeoutMs: number },
): Promise<SocketResponse | undefined> {
  return new Promise((resolve, reject) => {
    let head: Buffer = Buffer.alloc(0);
    let body: SocketBody | undefined;
    const socket: Socket = connect({
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: Number(url.port || '80'),
      onread: {
        buffer: Buffer.allocUnsafe(readBufferBytes),
        callback: (length, buffer) => {
          if (body !== undefined) return body.deliver(buffer.subarray(0, length));
          head = Buffer.concat([head, buffer.subarray(0, length)]);
          const end = head.indexOf(headEnd);
          if (end < 0) {
            if (head.length > maxHeadBytes) socket.destroy(new Error('HTTP head too large'));
            return true;
          }
          const parsed = parseHead(head.subarray(0, end).toString('latin1'));
          if (parsed === undefined) {
            socket.destroy();
            resolve(undefined);
            return false;
          }
          body = new SocketBody(socket, parsed.contentLength);
          resolve({ status: parsed.status, headers: parsed.headers, body });
          // Bytes after the head are the body's first; copied, since the buffer is reused.
          return body.deliver(Buffer.from(head.subarray(end + headEnd.length)));
        },
      },
    });
    socket.setTimeout(options.idleTimeoutMs, () => {
      socket.destroy(new Error(`no data for ${String(options.idleTimeoutMs / 1000)} s`));
    });
    const { signal } = options;
    if (signal !== undefined) {
      if (signal.aborted) socket.destroy(abortError(signal));
      else
        signal.addEventListener('abort', () => socket.destroy(abortError(signal)), {
          once: true,
        });
    }
    socket.on('connect', () => {
      const target = `${url.pathname}${url.search}`;
      socket.write(
        `GET ${target} HTTP/1.1\r\nHost: ${url.host}\r\nAccept-Encoding: identity\r\n` +
          'Connection: close\r\nUser-Agent: metropolis-node-agent\r\n\r\n',
      );
    });
    socket.on('error', (error) => {
      if (body === undefined) reject(error);
      else body.fail(new Error(`the download ended early (${error.message})`, { cause: error }));
    });
    socket.on('end', () => {
      if (body === undefined)
        reject(new Error('the server closed the connection before answering'));
      else body.end();
    });
  });
}

/** Status and headers, or undefined when the answer is not one this reader takes. */
function parseHead(
  text: string,
): { status: number; headers: Map<string, string>; contentLength: number } | undefined {
  const [statusLine = '', ...lines] = text.split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(statusLine)?.[1];
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).trim().toLowerCase();
    // A repeated header (two lengths, say) is not the plain case.
    if (headers.has(name)) return undefined;
    headers.set(name, line.slice(colon + 1).trim());
  }
  const length = headers.get('content-length');
  const plain =
    status !== undefined &&
    status.startsWith('2') &&
    length !== undefined &&
    /^\d{1,15}$/.test(length) &&
    !headers.has('transfer-encoding') &&
    (headers.get('content-encoding') ?? 'identity') === 'identity';
  return plain ? { status: Number(status), headers, contentLength: Number(length) } : undefined;
}

function abortError(signal: AbortSignal): Error {
  return new Error('the download was aborted', { cause: signal.reason });
}

/**
 * The body as an async iterator over views of the read buffer: the socket pauses after every
 * chunk and reads again only when the next one is asked for, so a view stays valid until then.
 */
class SocketBody implements AsyncIterableIterator<Uint8Array> {
  readonly #socket: Socket;
  #remaining: number;
  #chunk: Uint8Array | undefined;
  #handedOut = false;
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;

  constructor(socket: Socket, length: number) {
    this.#socket = socket;
    this.#remaining = length;
    if (length === 0) this.#finish();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Takes a chunk from the socket; false pauses the socket until it is consumed. */
  deliver(chunk: Uint8Array): boolean {
    if (this.#ended || chunk.length === 0) return true;
    // Cannot happen (the socket is paused while a chunk is out), but would lose bytes silently.
    if (this.#chunk !== undefined) {
      this.fail(new Error('the socket delivered data while paused'));
      return false;
    }
    // Bytes past Content-Length are not the body's: the connection is done with.
    this.#chunk = chunk.subarray(0, this.#remaining);
    this.#remaining -= this.#chunk.length;
    this.#wake?.();
    return false;
  }

  end(): void {
    if (this.#remaining > 0) {
      this.fail(new Error(`the download ended early, ${String(this.#remaining)} bytes short`));
    }
  }

  fail(error: Error): void {
    if (this.#ended) return;
    this.#error ??= error;
    this.#wake?.();
  }

  async next(): Promise<IteratorResult<Uint8Array>> {
    if (this.#handedOut) {
      this.#handedOut = false;
      if (this.#remaining === 0) this.#finish();
      else this.#socket.resume();
    }
    while (this.#chunk === undefined && !this.#ended) {
      if (this.#error !== undefined) throw this.#error;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = undefined;
    }
    const chunk = this.#chunk;
    if (chunk === undefined) return { done: true, value: undefined };
    this.#chunk = undefined;
    this.#handedOut = true;
    return { done: false, value: chunk };
  }

  return(): Promise<IteratorResult<Uint8Array>> {
    this.#finish();
    return Promise.resolve({ done: true, value: undefined });
  }

  #finish(): void {
    this.#ended = true;
    this.#chunk = undefined;
    this.#socket.destroy();
    this.#wake?.();
  }
}

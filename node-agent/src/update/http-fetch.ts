// The download a stage needs, without fetch, whose web stream adds a promise per chunk (and the
// first stage would pay loading undici): http: through plainHttpGet, which reads the body into
// one reused buffer, https: through node:https.
import type { IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { errorMessage } from '@metropolis/errors';
import { plainHttpGet } from './plain-http-get.js';

/** The part of a fetch Response a stage reads; the global fetch's Response is one too. */
export interface BundleResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  /**
   * With {@link httpFetch}, each chunk is valid only until the next is asked for (a view into a
   * reused buffer): copy what must outlive that.
   */
  readonly body: AsyncIterable<Uint8Array> | null;
}

/** A fetch of a bundle: the global fetch fits, and so does {@link httpFetch}. */
export type BundleFetch = (url: string, init: BundleFetchInit) => Promise<BundleResponse>;

export interface BundleFetchInit {
  readonly signal?: AbortSignal;
  /** Until the connection is up. @default 30 s */
  readonly connectTimeoutMs?: number;
  /** Without a byte arriving. @default 30 s */
  readonly idleTimeoutMs?: number;
}

/** One answer, before redirects are followed. */
interface Answer {
  readonly status: number;
  readonly header: (name: string) => string | undefined;
  readonly body: AsyncIterable<Uint8Array>;
  readonly destroy: () => void;
}

const maxRedirects = 5;
const redirectStatuses = new Set([301, 302, 303, 307, 308]);
const defaultTimeoutMs = 30_000;

/**
 * GET `url`, following redirects on the same host and scheme only (an OSUpdate's URL must not be
 * a way to reach other hosts from the node); a body only for 2xx answers (others are discarded).
 * @throws Error for an unreachable or silent server, too many redirects, a redirect elsewhere.
 */
export const httpFetch: BundleFetch = async (url, init) => {
  let target = new URL(url);
  for (let redirects = 0; ; redirects++) {
    const answer = await get(target, init);
    const location = answer.header('location');
    if (redirectStatuses.has(answer.status) && location !== undefined) {
      answer.destroy();
      if (redirects === maxRedirects)
        throw new Error(`more than ${String(maxRedirects)} redirects`);
      const next = new URL(location, target);
      if (next.protocol !== target.protocol || next.host !== target.host) {
        throw new Error(
          `redirect from ${target.protocol}//${target.host} to ${next.protocol}//${next.host} refused: only redirects on the same host are followed`,
        );
      }
      target = next;
      continue;
    }
    const ok = answer.status >= 200 && answer.status < 300;
    if (!ok) answer.destroy();
    return {
      ok,
      status: answer.status,
      headers: { get: (name) => answer.header(name.toLowerCase()) ?? null },
      body: ok ? namedEarlyEnd(answer.body) : null,
    };
  }
};

/** The body, with a connection that breaks early named as such. */
async function* namedEarlyEnd(body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    yield* body;
  } catch (cause) {
    throw new Error(`the download ended early (${errorMessage(cause)})`, { cause });
  }
}

async function get(url: URL, init: BundleFetchInit): Promise<Answer> {
  const { signal } = init;
  const idleTimeoutMs = init.idleTimeoutMs ?? defaultTimeoutMs;
  const connectTimeoutMs = init.connectTimeoutMs ?? defaultTimeoutMs;
  if (url.protocol === 'http:') {
    const response = await plainHttpGet(url, {
      idleTimeoutMs,
      connectTimeoutMs,
      ...(signal ? { signal } : {}),
    });
    return {
      status: response.status,
      header: (name) => response.headers.get(name),
      body: response.body,
      destroy: () => {
        response.destroy();
      },
    };
  }
  if (url.protocol !== 'https:') throw new Error(`not an http(s) URL: ${url.href}`);
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    // A connection of its own: the body is read once, to the end or not at all.
    const request = httpsGet(url, { agent: false, ...(signal ? { signal } : {}) }, resolve);
    const connecting = setTimeout(() => {
      request.destroy(new Error(`not connected within ${String(connectTimeoutMs / 1000)} s`));
    }, connectTimeoutMs);
    request.on('socket', (socket) => {
      socket.once('secureConnect', () => {
        clearTimeout(connecting);
      });
    });
    request.on('close', () => {
      clearTimeout(connecting);
    });
    request.setTimeout(idleTimeoutMs, () => {
      request.destroy(new Error(`no data for ${String(idleTimeoutMs / 1000)} s`));
    });
    request.on('error', reject);
  });
  // The idle limit holds for the body too, not only until the head arrived.
  response.setTimeout(idleTimeoutMs, () => {
    response.destroy(new Error(`no data for ${String(idleTimeoutMs / 1000)} s`));
  });
  return {
    status: response.statusCode ?? 0,
    header: (name) => {
      const value = response.headers[name];
      return value === undefined ? undefined : String(value);
    },
    // Buffers: nothing sets an encoding (the bundle reader checks anyway).
    body: response,
    destroy: () => {
      response.destroy();
    },
  };
}

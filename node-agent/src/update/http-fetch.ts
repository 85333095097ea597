// The download a stage needs, through node:http(s) rather than fetch, whose web stream adds a
// promise per chunk — a cost a bundle of hundreds of MiB pays thousands of times (and the first
// stage pays loading undici).
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { errorMessage } from '@metropolis/errors';

/** The part of a fetch Response a stage reads; the global fetch's Response is one too. */
export interface BundleResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body: AsyncIterable<Uint8Array> | null;
}

/** A fetch of a bundle: the global fetch fits, and so does {@link httpFetch}. */
export type BundleFetch = (
  url: string,
  init: { readonly signal?: AbortSignal },
) => Promise<BundleResponse>;

const maxRedirects = 5;
const redirectStatuses = new Set([301, 302, 303, 307, 308]);
// As long as fetch waits for the next byte by default: a stalled server fails the stage.
const idleTimeoutMs = 300_000;

/**
 * GET `url`, following redirects like fetch; a body only for 2xx answers (others are discarded).
 * @throws Error for an unreachable server, too many redirects, a non-http(s) redirect target.
 */
export const httpFetch: BundleFetch = async (url, init) => {
  let target = new URL(url);
  for (let redirects = 0; ; redirects++) {
    const response = await get(target, init.signal);
    const status = response.statusCode ?? 0;
    const location = response.headers.location;
    if (redirectStatuses.has(status) && location !== undefined) {
      response.destroy();
      if (redirects === maxRedirects)
        throw new Error(`more than ${String(maxRedirects)} redirects`);
      target = new URL(location, target);
      continue;
    }
    const ok = status >= 200 && status < 300;
    if (!ok) response.destroy();
    return {
      ok,
      status,
      headers: {
        get: (name) => {
          const value = response.headers[name.toLowerCase()];
          return value === undefined ? null : String(value);
        },
      },
      body: ok ? body(response) : null,
    };
  }
};

/** The body, with a connection that breaks early named as such (node:http says "aborted"). */
async function* body(response: IncomingMessage): AsyncGenerator<Uint8Array> {
  try {
    // Buffers: nothing sets an encoding (the bundle reader checks anyway).
    for await (const chunk of response) yield chunk;
  } catch (cause) {
    throw new Error(`the download ended early (${errorMessage(cause)})`, { cause });
  }
}

function get(url: URL, signal: AbortSignal | undefined): Promise<IncomingMessage> {
  const send =
    url.protocol === 'http:' ? httpGet : url.protocol === 'https:' ? httpsGet : undefined;
  if (send === undefined) return Promise.reject(new Error(`not an http(s) URL: ${url.href}`));
  return new Promise((resolve, reject) => {
    // A connection of its own: the body is read once, to the end or not at all.
    const request = send(url, { agent: false, ...(signal ? { signal } : {}) }, resolve);
    request.setTimeout(idleTimeoutMs, () => {
      request.destroy(new Error(`no data for ${String(idleTimeoutMs / 1000)} s`));
    });
    request.on('error', reject);
  });
}

// httpFetch against a local server: bodies with a length and chunked ones, redirects, error
// statuses, redirect loops, downloads that break off.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import test from 'ava';
import { httpFetch } from './http-fetch.js';

const big = randomBytes(3 << 20);

async function serve(t: { teardown: (fn: () => void) => void }): Promise<string> {
  const server = createServer((req, res) => {
    if (req.url === '/bundle') res.writeHead(200, { 'content-length': '5' }).end('bytes');
    else if (req.url === '/big')
      res.writeHead(200, { 'content-length': String(big.length) }).end(big);
    else if (req.url === '/chunked') {
      res.writeHead(200);
      res.write('by');
      res.end('tes');
    } else if (req.url === '/short') {
      res.writeHead(200, { 'content-length': '10' });
      res.write('bytes', () => res.socket?.destroy());
    } else if (req.url === '/moved') res.writeHead(302, { location: '/bundle' }).end();
    else if (req.url === '/loop') res.writeHead(307, { location: '/loop' }).end();
    else res.writeHead(404).end('not here');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return `http://127.0.0.1:${String(address.port)}`;
}

async function text(body: AsyncIterable<Uint8Array> | null): Promise<string> {
  if (body === null) return '(no body)';
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks).toString();
}

test('a 2xx answer has its headers and body; redirects are followed', async (t) => {
  const base = await serve(t);
  for (const path of ['/bundle', '/moved', '/chunked']) {
    const response = await httpFetch(`${base}${path}`, {});
    t.true(response.ok);
    t.is(response.status, 200);
    if (path !== '/chunked') t.is(response.headers.get('Content-Length'), '5');
    t.is(await text(response.body), 'bytes');
  }
});

test('a large body arrives whole, in order; one that breaks off is an error', async (t) => {
  const base = await serve(t);
  const response = await httpFetch(`${base}/big`, {});
  const chunks: Uint8Array[] = [];
  // Each chunk is valid until the next is asked for: copy it.
  for await (const chunk of response.body ?? []) chunks.push(Buffer.from(chunk));
  t.true(Buffer.concat(chunks).equals(big));
  const short = await httpFetch(`${base}/short`, {});
  await t.throwsAsync(text(short.body), { message: /ended early/ });
});

test('any other answer is not ok and has no body; a redirect loop fails', async (t) => {
  const base = await serve(t);
  const response = await httpFetch(`${base}/missing`, {});
  t.false(response.ok);
  t.is(response.status, 404);
  t.is(response.body, null);
  await t.throwsAsync(httpFetch(`${base}/loop`, {}), { message: /more than 5 redirects/ });
});

test('an aborted download rejects', async (t) => {
  const base = await serve(t);
  await t.throwsAsync(httpFetch(`${base}/bundle`, { signal: AbortSignal.abort() }));
});

test('a redirect to another host is refused before that host is asked', async (t) => {
  let asked = 0;
  const other = createServer((_req, res) => {
    asked += 1;
    res.writeHead(200, { 'content-length': '5' }).end('bytes');
  });
  other.listen(0, '127.0.0.2');
  await once(other, 'listening');
  t.teardown(() => other.close());
  const address = other.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  const elsewhere = `http://127.0.0.2:${String(address.port)}/bundle`;
  const redirecting = createServer((_req, res) => {
    res.writeHead(302, { location: elsewhere }).end();
  });
  redirecting.listen(0, '127.0.0.1');
  await once(redirecting, 'listening');
  t.teardown(() => redirecting.close());
  const from = redirecting.address();
  if (from === null || typeof from === 'string') throw new Error('no address');
  await t.throwsAsync(httpFetch(`http://127.0.0.1:${String(from.port)}/bundle`, {}), {
    message: /redirect from http:\/\/127\.0\.0\.1:\d+ to http:\/\/127\.0\.0\.2:\d+ refused/,
  });
  t.is(asked, 0);
  // The host itself answers, so only the redirect kept the download from it.
  t.true((await httpFetch(elsewhere, {})).ok);
});

test('a server that accepts the request but never answers fails after the idle time', async (t) => {
  const silent = createServer(() => undefined);
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  t.teardown(() => {
    silent.closeAllConnections();
    silent.close();
  });
  const address = silent.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  await t.throwsAsync(
    httpFetch(`http://127.0.0.1:${String(address.port)}/bundle`, { idleTimeoutMs: 200 }),
    { message: 'no data for 0.2 s' },
  );
});

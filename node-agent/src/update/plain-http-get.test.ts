// plainHttpGet against scripted servers: every way HTTP/1.1 delimits a body, interim answers,
// answers cut short or malformed, stalled servers.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import test from 'ava';
import { plainHttpGet, type PlainHttpResponse } from './plain-http-get.js';

/** A server that answers every connection with `answer` (after reading the request head). */
async function scripted(
  t: { teardown: (fn: () => void) => void },
  answer: (socket: Socket) => void,
): Promise<URL> {
  const server = createServer((socket) => {
    let head = '';
    socket.on('data', (data) => {
      head += data.toString('latin1');
      if (head.includes('\r\n\r\n')) {
        socket.removeAllListeners('data');
        answer(socket);
      }
    });
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return new URL(`http://127.0.0.1:${String(address.port)}/path?q=1`);
}

async function body(response: PlainHttpResponse): Promise<Buffer> {
  const chunks: Buffer[] = [];
  // Each chunk is valid until the next is asked for: copy it.
  for await (const chunk of response.body) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

const get = (url: URL): Promise<PlainHttpResponse> => plainHttpGet(url, { idleTimeoutMs: 10_000 });

test('a body with a length, sent in pieces, arrives whole and in order', async (t) => {
  const data = randomBytes(5 << 20);
  const url = await scripted(t, (socket) => {
    socket.write(
      `HTTP/1.1 200 OK\r\nContent-Length: ${String(data.length)}\r\nX-A: 1\r\nx-a: 2\r\n\r\n`,
    );
    for (let start = 0; start < data.length; start += 300_000) {
      socket.write(data.subarray(start, start + 300_000));
    }
  });
  const response = await get(url);
  t.is(response.status, 200);
  t.is(response.headers.get('content-length'), String(data.length));
  t.is(response.headers.get('x-a'), '1, 2');
  t.true((await body(response)).equals(data));
});

test('a consumer that holds each chunk a while still gets every byte as sent', async (t) => {
  const data = randomBytes(8 << 20);
  const url = await scripted(t, (socket) => {
    socket.end(
      Buffer.concat([
        Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${String(data.length)}\r\n\r\n`),
        data,
      ]),
    );
  });
  const chunks: Buffer[] = [];
  for await (const chunk of (await get(url)).body) {
    // Meanwhile the socket reads on, into the other buffer only.
    await new Promise((resolve) => setTimeout(resolve, 1));
    chunks.push(Buffer.from(chunk));
  }
  t.true(Buffer.concat(chunks).equals(data));
});

test('a chunked body is decoded, and a body without a length ends with the connection', async (t) => {
  const chunked = await scripted(t, (socket) => {
    socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nbyt\r\n');
    socket.end('2;ext=1\r\nes\r\n0\r\nX-Trailer: 1\r\n\r\n');
  });
  t.is((await body(await get(chunked))).toString(), 'bytes');
  const delimitedByClose = await scripted(t, (socket) => {
    socket.end('HTTP/1.1 200 OK\r\n\r\nbytes');
  });
  t.is((await body(await get(delimitedByClose))).toString(), 'bytes');
});

test('an interim 1xx answer is skipped; the final one counts', async (t) => {
  const url = await scripted(t, (socket) => {
    socket.write('HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n');
    socket.end('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nbytes');
  });
  const response = await get(url);
  t.is(response.status, 200);
  t.is((await body(response)).toString(), 'bytes');
});

test('the request asks for the path and query, names the host, and closes the connection', async (t) => {
  let request = '';
  const server = createServer((socket) => {
    socket.on('data', (data) => {
      request += data.toString('latin1');
      if (request.includes('\r\n\r\n')) socket.end('HTTP/1.1 204 No Content\r\n\r\n');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  const url = new URL(`http://127.0.0.1:${String(address.port)}/a/b?c=d`);
  const response = await get(url);
  t.is(response.status, 204);
  t.is((await body(response)).length, 0);
  t.regex(request, /^GET \/a\/b\?c=d HTTP\/1\.1\r\n/);
  t.true(request.includes(`\r\nHost: 127.0.0.1:${String(address.port)}\r\n`));
  t.true(request.includes('\r\nConnection: close\r\n'));
});

test('a body cut short, a malformed answer and a refused connection are errors', async (t) => {
  const short = await scripted(t, (socket) => {
    socket.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nbytes');
  });
  const response = await get(short);
  await t.throwsAsync(body(response), { message: /connection closed after/ });
  const malformed = await scripted(t, (socket) => {
    socket.end('SPDY/3 200\r\n\r\n');
  });
  await t.throwsAsync(get(malformed), { message: /malformed HTTP response/ });
  const refused = new URL(short);
  refused.port = '1';
  await t.throwsAsync(get(refused), { code: 'ECONNREFUSED' });
});

test('a server that stops sending fails the download after the idle time', async (t) => {
  const url = await scripted(t, (socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nbyt');
  });
  const response = await plainHttpGet(url, { idleTimeoutMs: 100, connectTimeoutMs: 10_000 });
  await t.throwsAsync(body(response), { message: /no data for 0.1 s/ });
});

test('an abort fails the download, before or after the answer', async (t) => {
  const url = await scripted(t, (socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nbyt');
  });
  await t.throwsAsync(plainHttpGet(url, { idleTimeoutMs: 10_000, signal: AbortSignal.abort() }), {
    message: /aborted/,
  });
  const controller = new AbortController();
  const response = await plainHttpGet(url, { idleTimeoutMs: 10_000, signal: controller.signal });
  const reading = body(response);
  controller.abort();
  await t.throwsAsync(reading, { message: /aborted/ });
});

// The metrics server bounds its clients: a request head that never completes is cut off, and
// connections beyond the limit are closed at once while scrapes still work.
import test from 'ava';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { createLogger } from '@metropolis/logging';
import { Registry } from 'prom-client';
import { MetricsServer } from './metrics-server.js';

async function start(
  t: { teardown: (fn: () => Promise<void>) => void },
  limits: { maxConnections?: number; headersTimeoutMs?: number },
): Promise<number> {
  const controller = new AbortController();
  let bound: (port: number) => void = () => undefined;
  const listening = new Promise<number>((resolve) => {
    bound = resolve;
  });
  const server = new MetricsServer({
    registry: new Registry(),
    host: '127.0.0.1',
    port: 0,
    logger: createLogger({ format: 'json', destination: new PassThrough() }),
    onListening: bound,
    ...limits,
  });
  const running = server.run(controller.signal);
  t.teardown(async () => {
    controller.abort();
    await running;
  });
  return listening;
}

/** A connection that sent the start of a request head and nothing more. */
async function halfRequest(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
  return socket;
}

test('a request head that never completes is cut off after the header timeout', async (t) => {
  const port = await start(t, { headersTimeoutMs: 300 });
  const socket = await halfRequest(port);
  const answer: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => answer.push(chunk));
  await once(socket, 'close');
  t.regex(Buffer.concat(answer).toString(), /^HTTP\/1\.1 408 /);
});

test('connections beyond the limit are closed; a scrape works once there is room', async (t) => {
  const port = await start(t, { maxConnections: 2 });
  const held = [await halfRequest(port), await halfRequest(port)];
  const extra = connect(port, '127.0.0.1');
  extra.on('error', () => undefined);
  await once(extra, 'close');
  for (const socket of held) socket.destroy();
  await Promise.all(held.map((socket) => once(socket, 'close')));
  // The server counts a connection gone a moment after its client sees it close.
  for (let attempt = 0; ; attempt++) {
    try {
      const response = await fetch(`http://127.0.0.1:${String(port)}/metrics`);
      t.is(response.status, 200);
      return;
    } catch (error) {
      if (attempt === 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
});

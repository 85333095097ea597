// The bundle HTTP server serves exactly the files it was given, with their sha256.
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BundleHttpServer } from './bundle-http-server.js';

test('serves a file at its sha256 and nothing else', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bundle-http-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'v0.2.0.bundle');
  const content = Buffer.from('MTRBNDL1 not really a bundle');
  await writeFile(file, content);
  const server = await BundleHttpServer.start({ host: '127.0.0.1' });
  t.teardown(() => server.close());

  const served = await server.serve(file);
  t.is(served.sha256, createHash('sha256').update(content).digest('hex'));
  t.is(served.size, content.length);
  t.regex(served.url, /^http:\/\/127\.0\.0\.1:\d+\/bundles\/[0-9a-f]{64}\.bundle$/);
  const response = await fetch(served.url);
  t.is(response.status, 200);
  t.deepEqual(Buffer.from(await response.arrayBuffer()), content);
  t.is((await fetch(new URL('/bundles/other.bundle', served.url))).status, 404);
  t.is((await fetch(new URL('/etc/passwd', served.url))).status, 404);
});

import test from 'ava';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeIdentity, nodeIdOf } from './node-identity.js';

test('the node ID is metropolis- and the hex of the first 16 public key bytes', (t) => {
  const key = Uint8Array.from({ length: 32 }, (_, i) => i);
  t.is(nodeIdOf(key), 'metropolis-000102030405060708090a0b0c0d0e0f');
});

test('the key is created once and the same identity comes back on the next boot', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'identity-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'identity', 'node-key.pem');
  const first = await NodeIdentity.loadOrCreate(path);
  const second = await NodeIdentity.loadOrCreate(path);
  t.regex(first.nodeId, /^metropolis-[0-9a-f]{32}$/);
  t.is(second.nodeId, first.nodeId);
  t.is((await stat(path)).mode & 0o777, 0o600);
});

import test from 'ava';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeIdOf } from '@metropolis/api';
import { NodeIdentity } from './node-identity.js';

test('the key is created once and the same identity comes back on the next boot', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'identity-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'identity', 'node-key.pem');
  const first = await NodeIdentity.loadOrCreate(path);
  const second = await NodeIdentity.loadOrCreate(path);
  t.is(first.nodeId, nodeIdOf(await first.keyPair.rawPublicKey()));
  t.is(second.nodeId, first.nodeId);
  t.is((await stat(path)).mode & 0o777, 0o600);
});

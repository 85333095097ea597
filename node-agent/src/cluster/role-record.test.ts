// The role record: what one boot saves the next boot reads back, in the canonical order; a node
// without a record has no roles; an unknown role is refused, in a request and on disk alike.
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentError } from '../errors.js';
import { RoleRecord, validRoles } from './role-record.js';

async function recordPath(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'role-record-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'data', 'roles.json');
}

test('a fresh node has no roles; what is saved is what the next boot loads', async (t) => {
  const path = await recordPath(t);
  const fresh = new RoleRecord(path);
  await fresh.load();
  t.deepEqual(fresh.config, { roles: [] });

  const config = {
    roles: validRoles(['KubernetesController', 'ConsensusMember', 'ConsensusMember']),
    consensus: { initialCluster: 'n1=https://10.0.0.1:2380', state: 'existing' as const },
  };
  await fresh.save(config);
  const next = new RoleRecord(path);
  await next.load();
  t.deepEqual(next.config, {
    roles: ['ConsensusMember', 'KubernetesController'],
    consensus: { initialCluster: 'n1=https://10.0.0.1:2380', state: 'existing' },
  });
});

test('an unknown role is refused naming the known ones, also in a record on disk', async (t) => {
  const refused = t.throws(() => validRoles(['Gardener']), { instanceOf: AgentError });
  t.is(refused.code, 'AGENT_INVALID_ARGUMENT');
  t.regex(refused.message, /"Gardener".*ConsensusMember, KubernetesController, KubernetesWorker/);

  const path = await recordPath(t);
  await new RoleRecord(path).save({ roles: ['KubernetesWorker'] });
  await writeFile(path, JSON.stringify({ roles: ['KubernetesWorker', 'Gardener'] }));
  await t.throwsAsync(new RoleRecord(path).load(), { instanceOf: AgentError });
});

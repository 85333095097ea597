// The committed security epoch: it rises with committed boots, falls only for a release staged
// with allowDowngrade, and a damaged record stops rather than reads as 0.
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentError } from '../errors.js';
import { EpochGuard } from './epoch-guard.js';

async function recordPath(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'epoch-guard-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'security-epoch.json');
}

test('a committed boot raises the epoch; a later boot of an older release does not lower it', async (t) => {
  const path = await recordPath(t);
  await new EpochGuard({ path, runningSlot: 'A', runningEpoch: 3 }).noteCommittedBoot();
  const older = new EpochGuard({ path, runningSlot: 'B', runningEpoch: 1 });
  await older.noteCommittedBoot();
  t.is(await older.committed(), 3);
  await t.throwsAsync(older.commit(), { instanceOf: AgentError, message: /epoch 1, below/ });
  await t.throwsAsync(older.checkStage(2, 'v2', false), {
    message: /bundle v2 has security epoch 2/,
  });
  await t.notThrowsAsync(older.checkStage(2, 'v2', true));
  await t.notThrowsAsync(older.checkStage(3, 'v3', false));
});

test('a release staged with allowDowngrade may be booted and committed, and lowers the epoch', async (t) => {
  const path = await recordPath(t);
  const running = new EpochGuard({ path, runningSlot: 'A', runningEpoch: 3 });
  await running.noteCommittedBoot();
  await running.recordSlot('B', 1, false);
  await t.throwsAsync(running.checkBoot('B'), {
    message: /slot B holds a release of security epoch 1/,
  });
  await running.forgetSlot('B');
  await t.throwsAsync(
    running.checkBoot('B'),
    { message: /epoch 0/ },
    'an unknown slot counts as 0',
  );
  await running.recordSlot('B', 1, true);
  await t.notThrowsAsync(running.checkBoot('B'));
  const downgraded = new EpochGuard({ path, runningSlot: 'B', runningEpoch: 1 });
  await downgraded.commit();
  t.is(await downgraded.committed(), 1);
});

test('a damaged record stops stages and commits', async (t) => {
  const path = await recordPath(t);
  await writeFile(path, '{"committed": -1, "slots": {}}');
  const guard = new EpochGuard({ path, runningSlot: 'A', runningEpoch: 0 });
  const error = await t.throwsAsync(guard.checkStage(5, 'v5', false), { instanceOf: AgentError });
  t.is(error.code, 'AGENT_STORAGE');
  await t.throwsAsync(guard.commit(), { instanceOf: AgentError });
});

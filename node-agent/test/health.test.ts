// Node health as the agent measures it, on a real process node: every check is reported with
// its outcome, since when and why; a full data partition makes the node UNHEALTHY naming the
// check, and it is healthy again once space is freed.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Health } from '@metropolis/api';
import { TestNode, buildRelease, type Release } from './fixture-node.js';

let releases: string;
let v1: Release;

test.before(async () => {
  releases = await mkdtemp(join(tmpdir(), 'agent-health-'));
  v1 = await buildRelease(releases, 'v0.1.0');
});

test.after.always(async () => {
  await rm(releases, { recursive: true, force: true });
});

test('a full data partition makes the node UNHEALTHY naming the check, until space is freed', async (t) => {
  const node = await TestNode.start(t, { release: v1, dataPartitionBytes: 64 * 1024 ** 2 });
  const healthy = await node.waitFor((status) => status.health === Health.HEALTH_HEALTHY, 30_000);
  t.deepEqual(
    healthy.healthChecks.map((check) => [check.name, check.ok]),
    [
      ['data-partition', true],
      ['clock', true],
      ['trial', true],
      ['release', true],
    ],
    'a node without roles: only the node checks, all passing',
  );
  t.is(healthy.healthMessage, '');

  // Take every free byte, as a runaway log or download would.
  const data = join(node.dir, 'data');
  const filler = join(data, 'filler');
  const free = await statfs(data);
  await promisify(execFile)('fallocate', ['-l', String(free.bavail * free.bsize), filler]);
  const full = await node.waitFor((status) => status.health === Health.HEALTH_UNHEALTHY, 30_000);
  const check = full.healthChecks.find((found) => found.name === 'data-partition');
  t.false(check?.ok);
  t.regex(
    check?.message ?? '',
    /^full: \d+\.\d MiB free of 64\.0 MiB \(needs at least 3\.2 MiB\)$/,
  );
  t.is(full.healthMessage, `data-partition: ${check?.message ?? ''}`);
  t.true(
    (check?.sinceUnixMs ?? 0) > (healthy.healthChecks[0]?.sinceUnixMs ?? 0),
    'since it turned',
  );

  await rm(filler);
  const again = await node.waitFor((status) => status.health === Health.HEALTH_HEALTHY, 30_000);
  t.regex(
    again.healthChecks.find((found) => found.name === 'data-partition')?.message ?? '',
    /^writable, \d+% free$/,
  );
});

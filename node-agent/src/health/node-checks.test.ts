// The node's own checks against a real directory and real certificates: what each reports when
// it passes and when it fails.
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateAuthority } from '@metropolis/pki';
import type { BootStateView } from '../slots/slot-manager.js';
import type { CheckResult } from './health-book.js';
import { NodeChecks, minimumFreeBytes, type NodeChecksDeps } from './node-checks.js';

const committed: BootStateView = {
  runningSlot: 'A',
  nextSlot: undefined,
  bootOrder: ['A', 'B'],
  trial: false,
  slots: [],
  bootCurrent: 1,
};

async function run(
  t: { teardown: (fn: () => Promise<void>) => void },
  deps: Partial<NodeChecksDeps>,
) {
  const dir = await mkdtemp(join(tmpdir(), 'node-checks-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  let reported: readonly CheckResult[] = [];
  await new NodeChecks({
    dataDir: dir,
    probeFile: join(dir, '.health-probe'),
    nodeCertificate: () => Promise.resolve(undefined),
    boot: () => Promise.resolve(committed),
    trialDeadlineMs: () => 0,
    releaseHealthCheck: 'ok',
    report: (checks) => {
      reported = checks;
    },
    ...deps,
  }).check();
  const byName: Partial<Record<string, CheckResult>> = Object.fromEntries(
    reported.map((check) => [check.name, check]),
  );
  return byName;
}

test('a healthy node: every check passes, and each says what it found', async (t) => {
  const checks = await run(t, {});
  t.deepEqual(Object.keys(checks), ['data-partition', 'clock', 'trial', 'release']);
  t.true(Object.values(checks).every((check) => check?.ok));
  t.regex(checks['data-partition']?.message ?? '', /^writable, \d+% free$/);
  t.is(checks.trial?.message, 'slot A is committed');
});

test('a data partition that cannot be written fails with the reason', async (t) => {
  const checks = await run(t, { dataDir: '/nonexistent-data', probeFile: '/nonexistent-data/p' });
  t.false(checks['data-partition']?.ok);
  t.regex(checks['data-partition']?.message ?? '', /^not writable: .*ENOENT/);
});

test('the full threshold: 5% of the partition, at most 1 GiB', (t) => {
  t.is(minimumFreeBytes(100 * 1024 ** 2), 5 * 1024 ** 2);
  t.is(minimumFreeBytes(500 * 1024 ** 3), 1024 ** 3);
});

test('a clock outside the node certificate is failing; inside it passes', async (t) => {
  const ca = await CertificateAuthority.create({ commonName: 'test CA' });
  const issued = await ca.issue({
    commonName: 'metropolis-0123',
    usages: ['server'],
    notAfter: new Date(Date.now() + 3_600_000),
  });
  const nodeCertificate = () => Promise.resolve(issued.certificatePem);
  t.true((await run(t, { nodeCertificate })).clock?.ok);
  const late = await run(t, { nodeCertificate, now: () => Date.now() + 7_200_000 });
  t.false(late.clock?.ok);
  t.regex(late.clock?.message ?? '', /after the node certificate expired/);
  const early = await run(t, { nodeCertificate, now: () => Date.parse('2001-01-01T00:00:00Z') });
  t.false(early.clock?.ok);
  t.regex(early.clock?.message ?? '', /^the time 2001-01-01T00:00:00.000Z is before/);
});

test('a trial boot passes until its deadline, then fails', async (t) => {
  const trial: BootStateView = {
    ...committed,
    runningSlot: 'B',
    bootOrder: ['A', 'B'],
    trial: true,
  };
  const deadline = Date.parse('2030-01-01T00:05:00Z');
  const before = await run(t, {
    boot: () => Promise.resolve(trial),
    trialDeadlineMs: () => deadline,
    now: () => deadline - 1_000,
  });
  t.deepEqual(before.trial, {
    name: 'trial',
    ok: true,
    message: 'trial boot of slot B: to be committed by 2030-01-01T00:05:00.000Z',
  });
  const after = await run(t, {
    boot: () => Promise.resolve(trial),
    trialDeadlineMs: () => deadline,
    now: () => deadline + 1_000,
  });
  t.false(after.trial?.ok);
});

test('a release built never to be healthy fails its own check, and only that one', async (t) => {
  const checks = await run(t, { releaseHealthCheck: 'fail' });
  t.deepEqual(
    Object.values(checks)
      .filter((check) => !check?.ok)
      .map((check) => check?.name),
    ['release'],
  );
});

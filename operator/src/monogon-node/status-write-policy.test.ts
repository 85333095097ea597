// When a status is written: material changes at once, heartbeat refreshes rate-limited.
import test from 'ava';
import type { MonogonNodeStatus } from '@metropolis/api';
import {
  canonical,
  changedFields,
  leaseRenewal,
  statusWriteDecision,
} from './status-write-policy.js';

const status = {
  state: 'UP' as const,
  health: 'HEALTHY' as const,
  version: 'v1',
  lastHeartbeat: '2030-01-01T00:00:00Z',
};

test('a material change is written at once, naming the fields', (t) => {
  t.deepEqual(
    statusWriteDecision(
      status,
      { ...status, health: 'HEARTBEAT_TIMEOUT', lastHeartbeat: '2030-01-01T00:00:01Z' },
      30_000,
    ),
    { kind: 'change', fields: ['health'] },
  );
  t.deepEqual(statusWriteDecision(status, { ...status, bootedSlot: 'B' }, 30_000), {
    kind: 'change',
    fields: ['bootedSlot'],
  });
});

test('a heartbeat alone is written at most every refresh interval', (t) => {
  const later = (iso: string) => ({ ...status, lastHeartbeat: iso });
  t.deepEqual(statusWriteDecision(status, later('2030-01-01T00:00:29Z'), 30_000), {
    kind: 'defer',
  });
  t.deepEqual(statusWriteDecision(status, later('2030-01-01T00:00:30Z'), 30_000), {
    kind: 'refresh',
  });
  t.deepEqual(
    statusWriteDecision({ state: 'UP', health: 'HEALTHY', version: 'v1' }, status, 30_000),
    {
      kind: 'refresh',
    },
  );
  t.deepEqual(statusWriteDecision(status, status, 30_000), { kind: 'none' });
});

test('a new boot order or health check list waits for the refresh, unless something material changes', (t) => {
  const detail: MonogonNodeStatus = { ...status, bootOrder: ['B', 'A'] };
  t.deepEqual(statusWriteDecision(status, detail, 30_000), { kind: 'defer' });
  t.deepEqual(
    statusWriteDecision(status, { ...detail, lastHeartbeat: '2030-01-01T00:00:30Z' }, 30_000),
    { kind: 'refresh' },
  );
  t.deepEqual(statusWriteDecision(status, { ...detail, version: 'v2' }, 30_000), {
    kind: 'change',
    fields: ['version'],
  });
});

test('equal values compare equal whatever their key order', (t) => {
  t.is(canonical({ a: 1, b: [{ y: 1, x: 2 }] }), canonical({ b: [{ x: 2, y: 1 }], a: 1 }));
  t.deepEqual(changedFields({ version: 'v1' }, { version: 'v1', tpm: false }), ['tpm']);
});

test('the Lease is renewed at once the first time, then once per interval while the agent is heard', (t) => {
  t.deepEqual(leaseRenewal(undefined, 1_000, 1_000, 30_000, 10_000), { kind: 'renew' });
  t.deepEqual(leaseRenewal(1_000, 29_000, 29_500, 30_000, 10_000), {
    kind: 'wait',
    atMs: 31_000,
  });
  t.deepEqual(leaseRenewal(1_000, 30_500, 31_000, 30_000, 10_000), { kind: 'renew' });
});

test('the Lease of a silent agent is left to expire; it is looked at again at the recheck pace', (t) => {
  t.deepEqual(leaseRenewal(1_000, 1_000, 31_000, 30_000, 10_000), {
    kind: 'wait',
    atMs: 41_000,
  });
  t.deepEqual(leaseRenewal(1_000, 1_000, 2_000, 30_000, 10_000), { kind: 'wait', atMs: 31_000 });
});

// When a status is written: material changes at once, heartbeat refreshes rate-limited.
import test from 'ava';
import type { MonogonNodeStatus } from '@metropolis/api';
import { canonical, changedFields, statusWriteDecision } from './status-write-policy.js';

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

// Which status transitions become Kubernetes Events, and that repeats do not.
import test from 'ava';
import type { MonogonNodeStatus } from '@metropolis/api';
import { nodeEvents } from './node-events.js';

const up: MonogonNodeStatus = { state: 'UP', health: 'HEALTHY', version: 'v1', bootedSlot: 'A' };

test('coming up is one NodeUp event', (t) => {
  const events = nodeEvents({ state: 'STANDBY', health: 'UNKNOWN' }, up);
  t.deepEqual(
    events.map((event) => event.reason),
    ['NodeUp'],
  );
  t.regex(events[0]?.note ?? '', /version v1, slot A/);
});

test('losing and regaining the heartbeat', (t) => {
  const lost = nodeEvents(up, { ...up, health: 'HEARTBEAT_TIMEOUT' });
  t.like(lost, [{ type: 'Warning', reason: 'HeartbeatLost' }]);
  t.like(nodeEvents({ ...up, health: 'HEARTBEAT_TIMEOUT' }, up), [
    { type: 'Normal', reason: 'HeartbeatRestored' },
  ]);
});

test('an update is one event naming version and slot; a slot change alone is its own', (t) => {
  const events = nodeEvents(up, { ...up, version: 'v2', bootedSlot: 'B' });
  t.deepEqual(
    events.map((event) => event.reason),
    ['VersionChanged'],
  );
  t.regex(events[0]?.note ?? '', /v2 .*slot B/);
  t.deepEqual(
    nodeEvents(up, { ...up, bootedSlot: 'B' }).map((event) => event.reason),
    ['SlotChanged'],
  );
});

test('roles not applied is a warning once, not on every write', (t) => {
  const notBuilt = {
    type: 'RolesApplied',
    status: 'False' as const,
    reason: 'NotBuilt',
    message: 'not built yet',
    lastTransitionTime: 'T',
  };
  const after = { ...up, conditions: [notBuilt] };
  t.like(nodeEvents(up, after), [
    { type: 'Warning', reason: 'RolesNotApplied', note: 'not built yet' },
  ]);
  t.deepEqual(nodeEvents(after, { ...after, lastHeartbeat: 'later' }), []);
});

test('nothing changed, no events', (t) => {
  t.deepEqual(nodeEvents(up, up), []);
});

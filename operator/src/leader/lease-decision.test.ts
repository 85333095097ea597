// Leader election decisions: create, renew, wait, take over (released or expired).
import test from 'ava';
import {
  acquiredRecord,
  decideLease,
  recordKey,
  releasedRecord,
  type LeaseRecord,
} from './lease-decision.js';

const held = (holder: string, transitions = 3): LeaseRecord => ({
  holderIdentity: holder,
  leaseDurationSeconds: 15,
  acquireTimeMs: 1_000,
  renewTimeMs: 5_000,
  leaseTransitions: transitions,
});

const base = { identity: 'me', nowMs: 100_000, observedAtMs: 100_000, leaseDurationMs: 15_000 };

test('no lease: create it', (t) => {
  t.deepEqual(decideLease({ ...base, lease: undefined }), { kind: 'create' });
});

test('our own lease: renew it', (t) => {
  t.deepEqual(decideLease({ ...base, lease: held('me') }), { kind: 'renew' });
});

test('a lease held by another: wait until it has gone unrenewed for its duration', (t) => {
  const decision = decideLease({ ...base, lease: held('other'), nowMs: 114_999 });
  t.deepEqual(decision, { kind: 'wait', holder: 'other', expiresAtMs: 115_000 });
  t.deepEqual(decideLease({ ...base, lease: held('other'), nowMs: 115_000 }), {
    kind: 'takeOver',
    reason: 'expired',
    from: 'other',
  });
});

test('expiry counts from when we saw the record, not from the holder clock', (t) => {
  // renewTime is far in the past by our clock, yet we only just observed the record.
  const decision = decideLease({ ...base, lease: { ...held('other'), renewTimeMs: 1 } });
  t.is(decision.kind, 'wait');
});

test('the record duration wins over ours; a record without one uses ours', (t) => {
  const short = { ...held('other'), leaseDurationSeconds: 1 };
  t.is(decideLease({ ...base, lease: short, nowMs: 101_000 }).kind, 'takeOver');
  const none = { ...held('other'), leaseDurationSeconds: undefined };
  t.is(decideLease({ ...base, lease: none, nowMs: 101_000 }).kind, 'wait');
  t.is(decideLease({ ...base, lease: none, nowMs: 115_000 }).kind, 'takeOver');
});

test('a released lease (no holder) is taken at once', (t) => {
  for (const holderIdentity of [undefined, '']) {
    t.deepEqual(decideLease({ ...base, lease: { ...held('x'), holderIdentity } }), {
      kind: 'takeOver',
      reason: 'released',
      from: '',
    });
  }
});

test('records: create starts at 0 transitions, renew keeps acquireTime, takeover counts one', (t) => {
  t.deepEqual(acquiredRecord({ kind: 'create' }, undefined, 'me', 7_000, 15_000), {
    holderIdentity: 'me',
    leaseDurationSeconds: 15,
    acquireTimeMs: 7_000,
    renewTimeMs: 7_000,
    leaseTransitions: 0,
  });
  const renewed = acquiredRecord({ kind: 'renew' }, held('me'), 'me', 9_000, 15_000);
  t.is(renewed.acquireTimeMs, 1_000);
  t.is(renewed.renewTimeMs, 9_000);
  t.is(renewed.leaseTransitions, 3);
  const taken = acquiredRecord(
    { kind: 'takeOver', reason: 'expired', from: 'other' },
    held('other'),
    'me',
    9_000,
    2_500,
  );
  t.is(taken.holderIdentity, 'me');
  t.is(taken.acquireTimeMs, 9_000);
  t.is(taken.leaseTransitions, 4);
  // Lease durations are whole seconds on the wire, rounded up, at least one.
  t.is(taken.leaseDurationSeconds, 3);
});

test('a released record has no holder and a one-second duration', (t) => {
  const released = releasedRecord(held('me'), 9_000);
  t.is(released.holderIdentity, undefined);
  t.is(released.leaseDurationSeconds, 1);
  t.is(released.leaseTransitions, 3);
});

test('any change of the record is a new observation', (t) => {
  t.is(recordKey(held('a')), recordKey(held('a')));
  t.not(recordKey(held('a')), recordKey({ ...held('a'), renewTimeMs: 5_001 }));
  t.not(recordKey(held('a')), recordKey(undefined));
});

// The health book: health is the conjunction of every check; a check keeps its `since` while
// its outcome holds; watchers hear of every change and of nothing else.
import test from 'ava';
import { HealthBook } from './health-book.js';

function book() {
  let now = 1_000;
  let changes = 0;
  const health = new HealthBook(['node', 'roles'], {
    now: () => now,
    onChange: () => {
      changes += 1;
    },
  });
  return {
    health,
    tick: (ms: number) => {
      now += ms;
    },
    changes: () => changes,
  };
}

test('healthy only when every check of every source passes; the failing ones are named', (t) => {
  const { health } = book();
  health.record('roles', [{ name: 'etcd', ok: false, message: 'not running: exited' }]);
  health.record('node', [
    { name: 'data-partition', ok: true, message: 'writable' },
    { name: 'clock', ok: false, message: 'before the certificate' },
  ]);
  t.deepEqual(health.health, {
    healthy: false,
    message: 'clock: before the certificate; etcd: not running: exited',
  });
  t.deepEqual(
    health.checks.map((check) => check.name),
    ['data-partition', 'clock', 'etcd'],
    'sources in their declared order',
  );
  health.record('node', [{ name: 'data-partition', ok: true, message: 'writable' }]);
  health.record('roles', []);
  t.deepEqual(health.health, { healthy: true, message: '' });
});

test('since is when the outcome last changed, not when the message did', (t) => {
  const { health, tick, changes } = book();
  health.record('node', [{ name: 'data-partition', ok: true, message: '40% free' }]);
  tick(5_000);
  health.record('node', [{ name: 'data-partition', ok: true, message: '39% free' }]);
  t.is(health.checks[0]?.sinceMs, 1_000);
  tick(5_000);
  health.record('node', [{ name: 'data-partition', ok: false, message: 'full' }]);
  t.is(health.checks[0]?.sinceMs, 11_000);
  tick(5_000);
  health.record('node', [{ name: 'data-partition', ok: false, message: 'full' }]);
  t.is(changes(), 3, 'the repeat changed nothing');
});

test('an undeclared source is a programming error', (t) => {
  const { health } = book();
  t.throws(
    () => {
      health.record('kubelet', []);
    },
    { message: 'health source kubelet was not declared' },
  );
});

// The polling loop behind --watch and a served bundle: stops when told, on Ctrl-C (also during
// a read that hangs), retries the errors it is told to, and rethrows the others.
import test from 'ava';
import { pollUntil } from './poll-until.js';

test('reads until onValue says stop', async (t) => {
  let reads = 0;
  const seen: number[] = [];
  const outcome = await pollUntil({
    read: () => Promise.resolve(++reads),
    onValue: (value) => {
      seen.push(value);
      return value === 3;
    },
    signal: new AbortController().signal,
    intervalMs: 1,
  });
  t.is(outcome, 'done');
  t.deepEqual(seen, [1, 2, 3]);
});

test('an abort ends the wait and a hanging read', async (t) => {
  const controller = new AbortController();
  let reads = 0;
  const outcome = pollUntil({
    read: () => (++reads === 1 ? Promise.resolve(1) : new Promise<number>(() => undefined)),
    onValue: () => {
      setTimeout(() => {
        controller.abort();
      }, 20);
      return false;
    },
    signal: controller.signal,
    intervalMs: 1,
  });
  t.is(await outcome, 'aborted');
  t.is(reads, 2);
});

test('errors are retried when onError says so, rethrown otherwise', async (t) => {
  let reads = 0;
  const retried: unknown[] = [];
  const outcome = await pollUntil({
    read: () => (++reads < 3 ? Promise.reject(new Error('blip')) : Promise.resolve(reads)),
    onValue: () => true,
    onError: (error) => {
      retried.push(error);
      return true;
    },
    signal: new AbortController().signal,
    intervalMs: 1,
  });
  t.is(outcome, 'done');
  t.is(retried.length, 2);
  await t.throwsAsync(
    pollUntil({
      read: () => Promise.reject(new Error('broken')),
      onValue: () => true,
      signal: new AbortController().signal,
      intervalMs: 1,
    }),
    { message: 'broken' },
  );
});

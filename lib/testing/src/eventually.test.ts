import test from 'ava';
import { eventually, eventuallyDefined } from './eventually.js';

test('eventually returns the first answer that does not throw', async (t) => {
  let calls = 0;
  const value = await eventually(
    () => {
      calls += 1;
      if (calls < 3) throw new Error(`attempt ${String(calls)}`);
      return calls;
    },
    10_000,
    1,
  );
  t.is(value, 3);
});

test('eventually rethrows the last error once the time is up', async (t) => {
  const probe = (): never => {
    throw new Error('still down');
  };
  await t.throwsAsync(eventually(probe, 0, 1), { message: 'still down' });
});

test('eventuallyDefined waits past undefined and names what it waited for', async (t) => {
  let calls = 0;
  t.is(
    await eventuallyDefined('three calls', 10_000, () => (++calls >= 3 ? 'ok' : undefined), 1),
    'ok',
  );
  await t.throwsAsync(
    eventuallyDefined('a leader', 0, () => undefined, 1),
    {
      message: 'a leader: not reached in 0 ms; last: not yet',
    },
  );
});

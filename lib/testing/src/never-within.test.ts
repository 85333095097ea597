// neverWithin: passes when nothing happens for the whole while, fails as soon as it does.
import test from 'ava';
import { TestingError } from './errors.js';
import { neverWithin } from './never-within.js';

test('nothing happening for the whole while passes, after looking more than once', async (t) => {
  let looks = 0;
  await neverWithin(
    200,
    () => {
      looks++;
      return undefined;
    },
    20,
  );
  t.true(looks >= 2);
});

test('what happens in the middle of the while fails, with its description', async (t) => {
  let looks = 0;
  const error = await t.throwsAsync(
    neverWithin(60_000, () => (++looks === 3 ? 'it happened' : undefined), 10),
    { instanceOf: TestingError, message: 'it happened' },
  );
  t.is(error.code, 'HAPPENED');
  t.is(looks, 3, 'fails at once, without waiting out the while');
});

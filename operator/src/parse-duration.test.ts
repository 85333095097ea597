// Duration flags as Kubernetes components write them.
import test from 'ava';
import { OperatorError } from './errors.js';
import { parseDuration } from './parse-duration.js';

test('durations with units, and bare numbers as seconds', (t) => {
  t.is(parseDuration('10s'), 10_000);
  t.is(parseDuration('500ms'), 500);
  t.is(parseDuration('1.5m'), 90_000);
  t.is(parseDuration('1h'), 3_600_000);
  t.is(parseDuration('2'), 2_000);
});

test('anything else is a bad flag', (t) => {
  for (const text of ['', 's', '10 sec', '-1s', '0s', '1d']) {
    const error = t.throws(() => parseDuration(text), { instanceOf: OperatorError });
    t.is(error.code, 'OPERATOR_BAD_FLAG');
  }
});

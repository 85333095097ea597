import test from 'ava';
import { crdDuration, parseDuration } from './duration.js';

test('flags take Go durations with ms, s, m and h', (t) => {
  t.is(parseDuration('10s'), 10_000);
  t.is(parseDuration('500ms'), 500);
  t.is(parseDuration('1.5m'), 90_000);
  t.is(parseDuration('1h'), 3_600_000);
  t.is(parseDuration('1h30m'), 5_400_000);
  t.is(parseDuration('1m500ms'), 60_500);
});

test('a flag refuses a bare number, zero, a sign and unknown units', (t) => {
  for (const text of ['2', '0s', '0ms', '-1s', '+1s', '1d', 's', '', ' 1s', '1 s', '1.s']) {
    t.is(parseDuration(text), undefined, text);
  }
});

test('a CRD field takes what the CEL rule admits', (t) => {
  t.is(parseDuration('90s', crdDuration), 90_000);
  t.is(parseDuration('1h30m', crdDuration), 5_400_000);
  t.is(parseDuration('2.5m', crdDuration), 150_000);
  t.is(parseDuration('99999s', crdDuration), 99_999_000);
  for (const text of ['500ms', '100000s', '0s', '10', 'abc']) {
    t.is(parseDuration(text, crdDuration), undefined, text);
  }
});

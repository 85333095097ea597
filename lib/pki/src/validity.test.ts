import test from 'ava';
import { clockSkewMs, renewalTime } from './validity.js';

test('renewal is due at two thirds of the lifetime counted from the issue, not the backdated notBefore', (t) => {
  const issued = Date.parse('2030-01-01T00:00:00Z');
  const notBefore = new Date(issued - clockSkewMs);
  const notAfter = new Date(issued + 120_000);
  t.is(renewalTime(notBefore, notAfter), issued + 80_000);
  t.is(renewalTime(notBefore, notAfter, 0.5), issued + 60_000);
});

test('a certificate shorter than the backdating is due before it expires', (t) => {
  const notBefore = new Date(0);
  const notAfter = new Date(60_000);
  t.true(renewalTime(notBefore, notAfter) <= notAfter.getTime());
});

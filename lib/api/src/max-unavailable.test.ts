// The lib's rule against the examples crds/os-update.yaml's CEL rule is tested with
// (lib/testing/test/os-update-crd.test.ts): both must accept and refuse the same values.
import test from 'ava';
import { decodeMaxUnavailable, parseMaxUnavailable } from './max-unavailable.js';

const accepted: readonly (number | string)[] = [1, 3, '1%', '50%', '100%'];
const refused: readonly (number | string)[] = [0, '0%', '150%', 'abc', '2'];

test('the values the CRD admits decode', (t) => {
  for (const value of accepted) t.not(decodeMaxUnavailable(value), undefined, String(value));
  t.deepEqual(decodeMaxUnavailable(3), { kind: 'nodes', nodes: 3 });
  t.deepEqual(decodeMaxUnavailable('50%'), { kind: 'percent', percent: 50 });
});

test('the values the CRD refuses do not', (t) => {
  for (const value of refused) t.is(decodeMaxUnavailable(value), undefined, String(value));
  t.is(decodeMaxUnavailable(-1), undefined);
  t.is(decodeMaxUnavailable(1.5), undefined);
});

test('a typed count becomes a number and a percentage stays a string', (t) => {
  t.is(parseMaxUnavailable(' 3 '), 3);
  t.is(parseMaxUnavailable('100%'), '100%');
  for (const text of ['0', '01', '0%', '101%', '-1', '1.5', 'all', '']) {
    t.is(parseMaxUnavailable(text), undefined, text);
  }
});

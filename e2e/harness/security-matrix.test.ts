import test from 'ava';
import { readFile } from 'node:fs/promises';
import {
  callerKinds,
  matrixDifferences,
  parseExpectedMatrix,
  type CallerKind,
  type MeasuredCell,
} from './security-matrix.js';

const header = `| Listener | ${callerKinds.join(' | ')} |\n| --- | --- | --- | --- | --- | --- | --- |\n`;

test('docs/security.md has a full listener matrix the security suite can read', async (t) => {
  const document = await readFile(new URL('../../docs/security.md', import.meta.url), 'utf8');
  const matrix = parseExpectedMatrix(document);
  t.deepEqual(
    [...matrix.keys()],
    [
      'management 7839 (owned node)',
      'registration 7836 (CA holder)',
      'credentials 7837 (CA holder)',
      'etcd client 2379 (member)',
      'etcd peer 2380 (member)',
      'kube-apiserver 6443',
      'operator metrics 7841',
      'bootstrap 7839 (unowned node)',
    ],
  );
  t.is(matrix.get('management 7839 (owned node)')?.get('operator'), 'allowed');
  t.is(matrix.get('etcd client 2379 (member)')?.get('owner'), 'unreachable');
});

test('a cell outside the vocabulary, a short row or a missing table is refused', (t) => {
  t.throws(
    () =>
      parseExpectedMatrix(
        `${header}| x | allowed | refused | ok | refused | refused | refused |\n`,
      ),
    {
      message: /"x" × node: "ok" is not one of allowed, refused, unreachable/,
    },
  );
  t.throws(() => parseExpectedMatrix(`${header}| x | allowed |\n`), { message: /has 1 cells/ });
  t.throws(() => parseExpectedMatrix('| Listener | none |\n| --- | --- |\n'), {
    message: /no table with the header/,
  });
});

test('every differing cell and every unmatched listener is reported', (t) => {
  const expected = parseExpectedMatrix(
    `${header}| a | allowed | refused | refused | refused | refused | refused |\n| b | refused | refused | refused | refused | refused | refused |\n`,
  );
  const row = (verdict: MeasuredCell['verdict']): Map<CallerKind, MeasuredCell> =>
    new Map(callerKinds.map((kind) => [kind, { verdict, detail: 'seen' }]));
  const measured = new Map([
    ['a', row('refused')],
    ['c', row('refused')],
  ]);
  t.deepEqual(matrixDifferences(expected, measured), [
    'a × none: expected allowed, measured refused (seen)',
    'b: in the document but not measured',
    'c: measured but not in the document',
  ]);
});

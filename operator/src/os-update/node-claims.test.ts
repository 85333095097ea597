// Two OSUpdates selecting the same node: the older one goes first.
import test from 'ava';
import { nodeClaims, type OtherUpdateView } from './node-claims.js';

const self = { name: 'update-b', createdAtMs: 2000 };

function other(overrides: Partial<OtherUpdateView>): OtherUpdateView {
  return {
    name: 'update-a',
    createdAtMs: 1000,
    phase: 'Progressing',
    selectedNodes: ['n1', 'n2'],
    entries: [],
    ...overrides,
  };
}

test('an older unfinished update claims every node it selects', (t) => {
  t.deepEqual(
    [...nodeClaims(self, [other({})])],
    [
      ['n1', 'update-a'],
      ['n2', 'update-a'],
    ],
  );
  t.deepEqual([...nodeClaims(self, [other({ phase: undefined })])].length, 2, 'not started yet');
});

test('a finished or newer update claims only nodes it is working on', (t) => {
  const entries = [
    { node: 'n1', phase: 'Rebooting' as const },
    { node: 'n2', phase: 'Committed' as const },
  ];
  t.deepEqual([...nodeClaims(self, [other({ phase: 'Halted', entries })])], [['n1', 'update-a']]);
  t.deepEqual([...nodeClaims(self, [other({ createdAtMs: 3000, entries })])], [['n1', 'update-a']]);
  t.deepEqual([...nodeClaims(self, [other({ phase: 'Succeeded' })])], []);
});

test('a halted update does not hold a node it left Staging', (t) => {
  const entries = [{ node: 'n1', phase: 'Staging' as const }];
  t.deepEqual([...nodeClaims(self, [other({ phase: 'Halted', entries })])], []);
  t.deepEqual(
    [...nodeClaims(self, [other({ createdAtMs: 3000, entries })])],
    [['n1', 'update-a']],
    'an unfinished one does, even when newer',
  );
});

test('the same creation time: the name decides; an update never claims from itself', (t) => {
  t.is(nodeClaims(self, [other({ createdAtMs: 2000 })]).size, 2);
  t.is(nodeClaims(self, [other({ name: 'update-c', createdAtMs: 2000 })]).size, 0);
  t.is(nodeClaims(self, [other({ name: 'update-b' })]).size, 0);
});

test('the oldest claimant is named', (t) => {
  const claims = nodeClaims(self, [
    other({ name: 'update-0', createdAtMs: 1500 }),
    other({ name: 'update-a', createdAtMs: 500 }),
  ]);
  t.is(claims.get('n1'), 'update-a');
});

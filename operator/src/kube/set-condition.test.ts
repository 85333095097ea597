// Condition bookkeeping per the Kubernetes API conventions.
import test from 'ava';
import { setCondition } from './set-condition.js';

const ready = { type: 'Ready', status: 'True' as const, reason: 'NodeHealthy', message: 'ok' };

test('a new condition type is appended with the current time', (t) => {
  const conditions = setCondition([], ready, 'T1', 3);
  t.deepEqual(conditions, [{ ...ready, lastTransitionTime: 'T1', observedGeneration: 3 }]);
});

test('lastTransitionTime moves only when status changes', (t) => {
  const one = setCondition([], ready, 'T1', 1);
  const reworded = setCondition(one, { ...ready, reason: 'Other', message: 'still ok' }, 'T2', 2);
  t.like(reworded[0], {
    reason: 'Other',
    message: 'still ok',
    lastTransitionTime: 'T1',
    observedGeneration: 2,
  });
  const flipped = setCondition(reworded, { ...ready, status: 'False' }, 'T3', 2);
  t.is(flipped[0]?.lastTransitionTime, 'T3');
});

test('other types keep their place and content', (t) => {
  const foreign = {
    type: 'Foreign',
    status: 'Unknown' as const,
    reason: 'X',
    message: '',
    lastTransitionTime: 'T0',
  };
  const conditions = setCondition([foreign], ready, 'T1', 1);
  t.deepEqual(conditions[0], foreign);
  t.is(conditions.length, 2);
});

// Role names as users type them: aliases, any case, and a clear refusal for anything else.
import test from 'ava';
import { MetroctlError } from '../errors.js';
import { parseRole, withRole, withoutRole } from './node-roles.js';

test('aliases and full names in any case name the same role', (t) => {
  for (const [text, role] of [
    ['cm', 'ConsensusMember'],
    ['KC', 'KubernetesController'],
    ['kw', 'KubernetesWorker'],
    ['ConsensusMember', 'ConsensusMember'],
    ['kubernetescontroller', 'KubernetesController'],
    ['KUBERNETESWORKER', 'KubernetesWorker'],
    [' kw ', 'KubernetesWorker'],
  ] as const) {
    t.is(parseRole(text), role, text);
  }
});

test('an unknown role is a usage error that lists the accepted names', (t) => {
  const error = t.throws(() => parseRole('worker'), { instanceOf: MetroctlError });
  t.is(error.code, 'METROCTL_USAGE');
  t.is(
    error.message,
    'unknown role "worker": use one of ConsensusMember (cm), KubernetesController (kc), ' +
      'KubernetesWorker (kw)',
  );
});

test('roles are sorted and unique, as Monogon prints them', (t) => {
  t.deepEqual(withRole(['KubernetesWorker'], 'ConsensusMember'), [
    'ConsensusMember',
    'KubernetesWorker',
  ]);
  t.deepEqual(withRole(['ConsensusMember'], 'ConsensusMember'), ['ConsensusMember']);
  t.deepEqual(withoutRole(['ConsensusMember', 'KubernetesWorker'], 'ConsensusMember'), [
    'KubernetesWorker',
  ]);
  t.deepEqual(withoutRole([], 'KubernetesWorker'), []);
});

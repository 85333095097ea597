// Generated OSUpdate names are valid Kubernetes names (DNS subdomains, and 63 characters so they
// also fit label values), whatever the version looks like.
import test from 'ava';
import { osUpdateName, randomNameSuffix } from './os-update-name.js';

const subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

test('os-<version>-<suffix>', (t) => {
  t.is(osUpdateName('0.2.0', 'x7k2q'), 'os-0.2.0-x7k2q');
  t.is(osUpdateName('V1.2.0-RC.1+build_7', 'x7k2q'), 'os-v1.2.0-rc.1-build-7-x7k2q');
  t.is(osUpdateName('0.1.0-dev494', 'x7k2q'), 'os-0.1.0-dev494-x7k2q');
});

test('versions with nothing usable, or odd punctuation, still give valid names', (t) => {
  t.is(osUpdateName('+++', 'x7k2q'), 'os-x7k2q');
  t.is(osUpdateName('...', 'x7k2q'), 'os-x7k2q');
  t.is(osUpdateName('-1..2-.3-', 'x7k2q'), 'os-1.2.3-x7k2q');
  for (const version of [
    '_a_',
    '.1',
    '1.',
    'ü',
    'a/b c',
    '1.-2',
    `${'9'.repeat(40)}.${'x'.repeat(40)}`,
  ]) {
    const name = osUpdateName(version, randomNameSuffix());
    t.regex(name, subdomain, version);
    t.true(name.length <= 63, name);
  }
});

test('long versions are shortened to 63 characters in all', (t) => {
  const name = osUpdateName('1.'.repeat(60), 'x7k2q');
  t.true(name.length <= 63);
  t.regex(name, subdomain);
  t.regex(name, /^os-1\.1\.1.*-x7k2q$/);
});

test('random suffixes: five characters of the generateName alphabet, rarely equal', (t) => {
  const suffixes = Array.from({ length: 50 }, () => randomNameSuffix());
  for (const suffix of suffixes) t.regex(suffix, /^[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  t.true(new Set(suffixes).size > 45);
});

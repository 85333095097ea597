// Registration nonces: only this process's, only unexpired, only untouched ones are valid.
import test from 'ava';
import { RegistrationNonces, nonceLifetimeMs } from './registration-nonces.js';

test('a fresh nonce is valid until it expires; a changed or foreign one never is', (t) => {
  let now = 1_000_000;
  const nonces = new RegistrationNonces(() => now);
  const nonce = nonces.issue();
  t.true(nonces.valid(nonce));

  const changed = Buffer.from(nonce);
  changed[0] = (changed[0] ?? 0) ^ 1;
  t.false(nonces.valid(changed), 'a moved expiry breaks the MAC');
  t.false(new RegistrationNonces(() => now).valid(nonce), 'another process issued none of it');
  t.false(nonces.valid(nonce.subarray(1)), 'wrong length');

  now += nonceLifetimeMs;
  t.false(nonces.valid(nonce), 'expired');
});

// Release keys: keyId derivation, PEM handling, refusal of private and non-Ed25519 keys.
import test from 'ava';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { generateSigningKey } from '../test/bundle-fixture.js';
import { BundleError, keyIdOf, releaseKeyFromPem, signingKeyFromPem } from './index.js';

test('keyId is the hex of the first 8 bytes of sha256 of the raw public key', (t) => {
  const { publicKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const raw = spki.subarray(spki.length - 32);
  t.is(keyIdOf(publicKey), createHash('sha256').update(raw).digest('hex').slice(0, 16));
});

test('a public PEM and its private PEM give the same keyId; comment lines are ignored', (t) => {
  const { key, privatePem, publicPem } = generateSigningKey();
  const release = releaseKeyFromPem(`# release key 2026\n${publicPem}`);
  t.is(release.keyId, key.keyId);
  t.is(signingKeyFromPem(`# dev only\n${privatePem}`).keyId, key.keyId);
  t.true(key.releaseKey.publicKey.equals(release.publicKey));
});

test('a private key is refused where a trusted public key is expected', (t) => {
  const { privatePem } = generateSigningKey();
  const error = t.throws(() => releaseKeyFromPem(privatePem), { instanceOf: BundleError });
  t.is(error.code, 'BUNDLE_INVALID_KEY');
  t.regex(error.message, /trust only the public half/);
});

test('non-Ed25519 keys and garbage are BUNDLE_INVALID_KEY', (t) => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cases = [
    () => releaseKeyFromPem(ec.publicKey.export({ type: 'spki', format: 'pem' }).toString()),
    () => signingKeyFromPem(ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
    () => releaseKeyFromPem('not a key'),
    () => signingKeyFromPem(''),
  ];
  for (const attempt of cases) {
    t.is(t.throws(attempt, { instanceOf: BundleError }).code, 'BUNDLE_INVALID_KEY');
  }
});

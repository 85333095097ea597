// Public keys a peer sends as PEM: Ed25519 and P-256 are imported as they are; other keys and
// other PEM are refused with their own codes.
import test from 'ava';
import { generateKeyPairSync, webcrypto } from 'node:crypto';
import { PkiError } from './errors.js';
import { KeyPair, publicKeyFromPem } from './key-pair.js';

test('an Ed25519 or P-256 public key in PEM is imported as the same key', async (t) => {
  for (const algorithm of ['ed25519', 'ecdsa-p256'] as const) {
    const pair = await KeyPair.generate(algorithm);
    const imported = await publicKeyFromPem(await pair.publicKeyPem());
    t.deepEqual(
      new Uint8Array(await webcrypto.subtle.exportKey('spki', imported)),
      new Uint8Array(await webcrypto.subtle.exportKey('spki', pair.publicKey)),
    );
  }
});

test('an RSA key, a private key or garbage is refused', async (t) => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
    type: 'spki',
    format: 'pem',
  });
  const rsaError = await t.throwsAsync(publicKeyFromPem(String(rsa)), { instanceOf: PkiError });
  t.is(rsaError.code, 'PKI_INVALID_KEY');
  for (const pem of ['not PEM', await (await KeyPair.generate()).privateKeyPem()]) {
    const error = await t.throwsAsync(publicKeyFromPem(pem), { instanceOf: PkiError });
    t.is(error.code, 'PKI_INVALID_PEM');
  }
});

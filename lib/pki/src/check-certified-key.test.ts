// A certificate read from disk is checked to be one, and to certify the key it is used with.
import test from 'ava';
import {
  CertificateAuthority,
  KeyPair,
  PkiError,
  checkCertifiedKey,
  parseCertificate,
} from './index.js';

test('a leaf certificate certifies its own key and no other', async (t) => {
  const ca = await CertificateAuthority.create({ commonName: 'ca' });
  const issued = await ca.issue({ commonName: 'owner', usages: ['client'] });
  const certificate = parseCertificate(issued.certificatePem);
  await t.notThrowsAsync(checkCertifiedKey(certificate, issued.keyPair));
  const error = await t.throwsAsync(checkCertifiedKey(certificate, await KeyPair.generate()), {
    instanceOf: PkiError,
  });
  t.is(error.code, 'PKI_INVALID_KEY');
});

test('text that is not a PEM certificate is PKI_INVALID_PEM', (t) => {
  for (const pem of ['', 'hello', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----']) {
    const error = t.throws(() => parseCertificate(pem), { instanceOf: PkiError });
    t.is(error.code, 'PKI_INVALID_PEM');
  }
});

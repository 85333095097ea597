import test from 'ava';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateAuthority, PkiError, RevocationList, signRevocationList } from './index.js';

async function clientOf(ca: CertificateAuthority, name: string): Promise<X509Certificate> {
  const issued = await ca.issue({ commonName: name, usages: ['client'] });
  return new X509Certificate(issued.certificatePem);
}

test('a revocation list names the revoked serials, as a TLS peer certificate spells them', async (t) => {
  const ca = await CertificateAuthority.create({ commonName: 'ca' });
  const revoked = await clientOf(ca, 'gone');
  const kept = await clientOf(ca, 'kept');
  const pem = await signRevocationList(
    ca,
    [{ serial: revoked.serialNumber, revokedAt: new Date() }],
    new Date(Date.now() + 60_000),
  );
  const list = await RevocationList.parse(pem, ca.certificatePem);
  t.is(list.size, 1);
  t.true(list.revokes(revoked.serialNumber));
  t.true(list.revokes(`00${revoked.serialNumber.toLowerCase()}`));
  t.false(list.revokes(kept.serialNumber));
  t.false(RevocationList.empty().revokes(revoked.serialNumber));
});

test('OpenSSL verifies the list against its CA and reads its entries', async (t) => {
  const ca = await CertificateAuthority.create({ commonName: 'ca' });
  const revoked = await clientOf(ca, 'gone');
  const dir = await mkdtemp(join(tmpdir(), 'crl-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'ca.pem'), ca.certificatePem);
  await writeFile(
    join(dir, 'crl.pem'),
    await signRevocationList(
      ca,
      [{ serial: revoked.serialNumber, revokedAt: new Date() }],
      new Date(Date.now() + 60_000),
    ),
  );
  const text = execFileSync(
    'openssl',
    ['crl', '-in', join(dir, 'crl.pem'), '-CAfile', join(dir, 'ca.pem'), '-noout', '-text'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.regex(text, new RegExp(`Serial Number: ${revoked.serialNumber}`, 'i'));
});

test('a list signed by another CA, or no list at all, is refused', async (t) => {
  const ca = await CertificateAuthority.create({ commonName: 'ca' });
  const other = await CertificateAuthority.create({ commonName: 'ca' });
  const pem = await signRevocationList(other, [], new Date(Date.now() + 60_000));
  const forged = await t.throwsAsync(RevocationList.parse(pem, ca.certificatePem), {
    instanceOf: PkiError,
  });
  t.is(forged.code, 'PKI_INVALID_SIGNATURE');
  const garbage = await t.throwsAsync(RevocationList.parse('nope', ca.certificatePem), {
    instanceOf: PkiError,
  });
  t.is(garbage.code, 'PKI_INVALID_PEM');
});

import test from 'ava';
import { X509Certificate, createPublicKey } from 'node:crypto';
import {
  CertificateAuthority,
  KeyPair,
  PkiError,
  ed25519PublicKeyFromRaw,
  noExpiry,
  selfSignedCertificate,
} from './index.js';

test('a new CA is self-signed, marked as CA, and never expires', async (t) => {
  const ca = await CertificateAuthority.create({ commonName: 'Metropolis Cluster CA' });
  const cert = new X509Certificate(ca.certificatePem);
  t.true(cert.ca);
  t.is(cert.subject, 'CN=Metropolis Cluster CA');
  t.true(cert.checkIssued(cert));
  t.true(cert.verify(cert.publicKey));
  t.is(cert.publicKey.asymmetricKeyType, 'ed25519');
  t.is(new Date(cert.validTo).getTime(), noExpiry.getTime());
});

test('a server certificate carries its names and verifies against the CA only', async (t) => {
  const ca = await CertificateAuthority.create({ commonName: 'ca' });
  const other = await CertificateAuthority.create({ commonName: 'ca' });
  const issued = await ca.issue({
    commonName: 'kube-apiserver',
    usages: ['server'],
    hosts: ['localhost', '127.0.0.1', '::1', 'kubernetes.default.svc'],
  });
  const cert = new X509Certificate(issued.certificatePem);
  const caCert = new X509Certificate(ca.certificatePem);
  t.false(cert.ca);
  t.true(cert.verify(caCert.publicKey));
  t.false(cert.verify(new X509Certificate(other.certificatePem).publicKey));
  t.is(
    cert.subjectAltName,
    'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:kubernetes.default.svc',
  );
  t.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']);
  t.truthy(cert.checkHost('localhost'));
  t.truthy(cert.checkIP('127.0.0.1'));
  t.is(cert.checkHost('example.com'), undefined);
});

test('a client certificate carries organizations as Kubernetes groups', async (t) => {
  const ca = await CertificateAuthority.create({ commonName: 'ca' });
  const issued = await ca.issue({
    commonName: 'admin',
    organizations: ['system:masters'],
    usages: ['client'],
  });
  const cert = new X509Certificate(issued.certificatePem);
  t.is(cert.subject, 'O=system:masters\nCN=admin');
  t.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.2']);
  t.true(cert.publicKey.equals(createPublicKey(await issued.keyPair.publicKeyPem())));
});

test('an existing public key is certified without generating a new key', async (t) => {
  const ca = await CertificateAuthority.create({ commonName: 'ca' });
  const nodeKey = await KeyPair.generate();
  const pem = await ca.certify(nodeKey.publicKey, {
    commonName: 'metropolis-0123',
    usages: ['server', 'client'],
  });
  const cert = new X509Certificate(pem);
  t.true(cert.publicKey.equals(createPublicKey(await nodeKey.publicKeyPem())));
});

test('ECDSA P-256 keys work for CAs and leaves', async (t) => {
  const ca = await CertificateAuthority.create({ commonName: 'ca', algorithm: 'ecdsa-p256' });
  const issued = await ca.issue({ commonName: 'sa', usages: ['client'], algorithm: 'ecdsa-p256' });
  const cert = new X509Certificate(issued.certificatePem);
  t.is(cert.publicKey.asymmetricKeyType, 'ec');
  t.true(cert.verify(new X509Certificate(ca.certificatePem).publicKey));
});

test('a CA survives a PEM round trip and keeps signing', async (t) => {
  const ca = await CertificateAuthority.create({ commonName: 'ca' });
  const loaded = await CertificateAuthority.load(
    ca.certificatePem,
    await ca.keyPair.privateKeyPem(),
  );
  const issued = await loaded.issue({ commonName: 'x', usages: ['client'] });
  t.true(
    new X509Certificate(issued.certificatePem).verify(
      new X509Certificate(ca.certificatePem).publicKey,
    ),
  );
});

test('loading a CA with a key that is not its own is refused', async (t) => {
  const ca = await CertificateAuthority.create({ commonName: 'ca' });
  const stranger = await KeyPair.generate();
  const error = await t.throwsAsync(
    CertificateAuthority.load(ca.certificatePem, await stranger.privateKeyPem()),
    { instanceOf: PkiError },
  );
  t.is(error.code, 'PKI_INVALID_KEY');
});

test('garbage PEM and empty requests get typed errors', async (t) => {
  const ca = await CertificateAuthority.create({ commonName: 'ca' });
  const typed = { instanceOf: PkiError };
  const pem = await t.throwsAsync(KeyPair.fromPrivateKeyPem('not a key'), typed);
  t.is(pem.code, 'PKI_INVALID_PEM');
  const noUsage = await t.throwsAsync(ca.issue({ commonName: 'x', usages: [] }), typed);
  t.is(noUsage.code, 'PKI_INVALID_REQUEST');
  const badCert = await t.throwsAsync(
    CertificateAuthority.load('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----', ''),
    typed,
  );
  t.is(badCert.code, 'PKI_INVALID_PEM');
});

test('a self-signed leaf certifies an existing key and verifies only against itself', async (t) => {
  const key = await KeyPair.generate();
  const pem = await selfSignedCertificate(key, {
    commonName: 'metropolis-0123',
    usages: ['server'],
    hosts: ['10.1.0.2'],
  });
  const cert = new X509Certificate(pem);
  t.false(cert.ca);
  t.true(cert.verify(cert.publicKey));
  t.true(cert.publicKey.equals(createPublicKey(await key.publicKeyPem())));
  t.truthy(cert.checkIP('10.1.0.2'));
});

test('a raw Ed25519 public key from a peer can be certified; other lengths are refused', async (t) => {
  const ca = await CertificateAuthority.create({ commonName: 'ca' });
  const owner = await KeyPair.generate();
  const pem = await ca.certify(await ed25519PublicKeyFromRaw(await owner.rawPublicKey()), {
    commonName: 'owner',
    usages: ['client'],
  });
  t.true(new X509Certificate(pem).publicKey.equals(createPublicKey(await owner.publicKeyPem())));
  const error = await t.throwsAsync(ed25519PublicKeyFromRaw(new Uint8Array(31)), {
    instanceOf: PkiError,
  });
  t.is(error.code, 'PKI_INVALID_KEY');
});

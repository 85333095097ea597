// The config directory: a private owner key (0600 in a 0700 directory) that is created once
// and reused, refused when others can read it; cluster files written and read back.
import test from 'ava';
import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateAuthority, KeyPair } from '@metropolis/pki';
import { MetroctlError } from '../errors.js';
import { ConfigStore } from './config-store.js';

async function tempStore(t: { teardown(fn: () => Promise<void>): void }): Promise<ConfigStore> {
  const dir = await mkdtemp(join(tmpdir(), 'metroctl-config-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return new ConfigStore(join(dir, '.metroctl'));
}

const modeOf = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

test('the owner key is created once, private, and reused', async (t) => {
  const store = await tempStore(t);
  const first = await store.loadOrCreateOwnerKey();
  t.true(first.created);
  t.is(first.keyPair.algorithm, 'ed25519');
  t.is(await modeOf(store.paths.dir), 0o700);
  t.is(await modeOf(store.paths.ownerKey), 0o600);
  t.regex(await readFile(store.paths.ownerKey, 'utf8'), /^-----BEGIN PRIVATE KEY-----/);

  const second = await store.loadOrCreateOwnerKey();
  t.false(second.created);
  t.deepEqual(await second.keyPair.rawPublicKey(), await first.keyPair.rawPublicKey());
  t.deepEqual(await readdir(store.paths.dir), ['owner-key.pem']);
});

test('an owner key that others can read is refused, as ssh does', async (t) => {
  const store = await tempStore(t);
  await store.loadOrCreateOwnerKey();
  await chmod(store.paths.ownerKey, 0o644);
  const error = await t.throwsAsync(store.loadOrCreateOwnerKey(), { instanceOf: MetroctlError });
  t.is(error.code, 'METROCTL_CONFIG');
  t.regex(error.message, /owner-key\.pem is accessible by others \(mode 0644\): run chmod 600/);
});

const config = {
  endpoints: ['10.1.0.2'],
  nodeId: 'metropolis-ec101152c48c5f761534c1910cf66200',
  kubernetesEndpoint: 'https://10.1.0.2:6443',
};

/** A store that owns a cluster: its key, an owner certificate for it and the CA that issued it. */
async function ownedStore(t: {
  teardown(fn: () => Promise<void>): void;
}): Promise<{ store: ConfigStore; ca: CertificateAuthority; ownerCertificatePem: string }> {
  const store = await tempStore(t);
  const { keyPair } = await store.loadOrCreateOwnerKey();
  const ca = await CertificateAuthority.create({ commonName: 'Metropolis Cluster CA' });
  const ownerCertificatePem = await ca.certify(keyPair.publicKey, {
    commonName: 'owner',
    organizations: ['metropolis:owner'],
    usages: ['client'],
  });
  await store.saveCluster({ ownerCertificatePem, caPem: ca.certificatePem, config });
  return { store, ca, ownerCertificatePem };
}

test('saved cluster files read back, certificates world-readable, key private', async (t) => {
  const empty = await tempStore(t);
  t.false(await empty.hasOwnerCertificate());
  const { store, ca, ownerCertificatePem } = await ownedStore(t);
  t.true(await store.hasOwnerCertificate());
  t.deepEqual(await store.clusterConfig(), config);
  const credentials = await store.ownerCredentials();
  t.is(credentials.certificatePem, ownerCertificatePem);
  t.is(credentials.caPem, ca.certificatePem);
  t.regex(credentials.keyPem, /PRIVATE KEY/);
  t.is(await modeOf(store.paths.ownerCertificate), 0o644);
  t.is(await modeOf(store.paths.ca), 0o644);
  t.is(await modeOf(store.paths.config), 0o644);
  t.is(await modeOf(store.paths.ownerKey), 0o600);
  t.deepEqual((await readdir(store.paths.dir)).sort(), [
    'ca.pem',
    'config.json',
    'owner-key.pem',
    'owner.pem',
  ]);
});

test('a directory that owns no cluster says how to get one', async (t) => {
  const store = await tempStore(t);
  const error = await t.throwsAsync(store.ownerCredentials(), { instanceOf: MetroctlError });
  t.is(error.code, 'METROCTL_CONFIG');
  t.regex(error.message, /^no owner certificate at .*owner\.pem: bootstrap a cluster first/);
});

test('damaged owner credentials are refused, naming the file', async (t) => {
  const garbage = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
  const cases: [string, (store: ConfigStore) => Promise<void>, RegExp][] = [
    [
      'ca.pem',
      (store) => writeFile(store.paths.ca, garbage),
      /ca\.pem is not a PEM X\.509 certificate$/,
    ],
    [
      'owner.pem',
      (store) => writeFile(store.paths.ownerCertificate, 'hello\n'),
      /owner\.pem is not a PEM X\.509 certificate$/,
    ],
    [
      'owner-key.pem',
      (store) => writeFile(store.paths.ownerKey, 'hello\n'),
      /owner-key\.pem is not an Ed25519 PKCS#8 private key: /,
    ],
    [
      'another key',
      async (store) => {
        const stranger = await KeyPair.generate();
        await writeFile(store.paths.ownerKey, await stranger.privateKeyPem());
      },
      /owner\.pem does not certify the owner key .*owner-key\.pem$/,
    ],
  ];
  for (const [what, damage, message] of cases) {
    const { store } = await ownedStore(t);
    await damage(store);
    const error = await t.throwsAsync(
      store.ownerCredentials(),
      { instanceOf: MetroctlError },
      what,
    );
    t.is(error.code, 'METROCTL_CONFIG', what);
    t.regex(error.message, message, what);
  }
});

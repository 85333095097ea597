// Role credentials from the node's side: it generates the keys, the CA certifies the public
// halves (the same request locally as remotely), and only a certificate for the node's own key
// is written; the issuer takes exactly the keys the roles need.
import test from 'ava';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeLayout, type RolePublicKeys } from '@metropolis/api';
import { KeyPair } from '@metropolis/pki';
import { AgentError } from '../errors.js';
import { ClusterPki } from './cluster-pki.js';
import { localCredentials, type RoleCredentialSource } from './role-credentials.js';
import { RoleFiles } from './role-files.js';

const nodeId = 'metropolis-00112233445566778899aabbccddeeff';

async function caHolder(t: {
  teardown: (fn: () => Promise<void>) => void;
}): Promise<{ layout: NodeLayout; pki: ClusterPki }> {
  const dir = await mkdtemp(join(tmpdir(), 'role-files-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const data = join(dir, 'data');
  const layout = new NodeLayout({
    efivarfs: join(dir, 'efivars'),
    esp: join(dir, 'esp'),
    systemA: join(dir, 'a'),
    systemB: join(dir, 'b'),
    data,
    disk: join(dir, 'disk.json'),
    cmdline: join(dir, 'cmdline'),
  });
  return { layout, pki: await ClusterPki.create(layout) };
}

const noKeys: RolePublicKeys = {
  etcd: '',
  kubeApiserver: '',
  kubeApiserverEtcdClient: '',
  operator: '',
};

test('a controller generates its keys, gets certificates with per-node names and the shared secrets', async (t) => {
  const { layout, pki } = await caHolder(t);
  const files = new RoleFiles(layout);
  await files.ensure('KubernetesController', localCredentials(pki, nodeId, '10.0.0.1'));
  t.true(await files.has('KubernetesController'));
  t.false(await files.has('ConsensusMember'));

  const operatorCert = new X509Certificate(await readFile(files.operator.cert, 'utf8'));
  t.is(operatorCert.subject, `O=metropolis:operator\nCN=operator:${nodeId}`);
  const operatorKey = await KeyPair.fromPrivateKeyPem(await readFile(files.operator.key, 'utf8'));
  t.is(
    String(operatorCert.publicKey.export({ type: 'spki', format: 'pem' })).trimEnd(),
    await operatorKey.publicKeyPem(),
    'the certificate is for the key the node generated',
  );
  const apiserverCert = new X509Certificate(await readFile(files.apiserver.cert, 'utf8'));
  t.is(apiserverCert.subject, `CN=kube-apiserver:${nodeId}`);
  t.is((await stat(files.operator.key)).mode & 0o777, 0o600);

  // The shared secrets: the CA holder's service-account key, and its encryption key in
  // kube-apiserver's configuration, readable by the agent only.
  t.is(
    await readFile(files.serviceAccount.key, 'utf8'),
    await readFile(layout.serviceAccountKey, 'utf8'),
  );
  t.is((await stat(files.encryptionConfig)).mode & 0o777, 0o600);
  const config = await readFile(files.encryptionConfig, 'utf8');
  const held = (await readFile(layout.secretsEncryptionKeys, 'utf8')).trim();
  t.regex(config, /secretbox/);
  t.true(config.includes(held), "the CA holder's key encrypts");
});

test('a consensus member gets no shared secrets', async (t) => {
  const { layout, pki } = await caHolder(t);
  const pair = await KeyPair.generate();
  const issued = await pki.roleCredentials(
    { roles: ['ConsensusMember'], publicKeys: { ...noKeys, etcd: await pair.publicKeyPem() } },
    nodeId,
    '10.0.0.1',
  );
  t.is(issued.sharedSecrets, undefined);
  t.is(new X509Certificate(issued.etcdCertificate).subject, `CN=${nodeId}`);
  t.false(await new RoleFiles(layout).has('KubernetesController'));
});

test('the issuer refuses keys that do not match the roles, and unknown roles', async (t) => {
  const { pki } = await caHolder(t);
  const key = await (await KeyPair.generate()).publicKeyPem();
  const refusals = [
    { roles: ['ConsensusMember'], publicKeys: noKeys },
    { roles: ['ConsensusMember'], publicKeys: { ...noKeys, etcd: key, operator: key } },
    { roles: ['KubernetesController'], publicKeys: { ...noKeys, kubeApiserver: key } },
    { roles: ['ConsensusMember'], publicKeys: { ...noKeys, etcd: 'not a key' } },
    { roles: ['Root'], publicKeys: noKeys },
  ];
  for (const request of refusals) {
    const error = await t.throwsAsync(pki.roleCredentials(request, nodeId, '10.0.0.1'), {
      instanceOf: AgentError,
    });
    t.is(error.code, 'AGENT_INVALID_ARGUMENT', JSON.stringify(request));
  }
});

test('a certificate for another key is refused and nothing is written', async (t) => {
  const { layout, pki } = await caHolder(t);
  const local = localCredentials(pki, nodeId, '10.0.0.1');
  const other = await (await KeyPair.generate()).publicKeyPem();
  const swapped: RoleCredentialSource = (request) =>
    local({ ...request, publicKeys: { ...noKeys, etcd: other } });
  const files = new RoleFiles(layout);
  const error = await t.throwsAsync(files.ensure('ConsensusMember', swapped), {
    instanceOf: AgentError,
  });
  t.is(error.code, 'AGENT_CREDENTIALS');
  t.deepEqual(await readdir(layout.controlPlanePki).catch(() => []), []);
});

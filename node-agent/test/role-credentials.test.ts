// Role credentials on a real CA-holding node (real etcd and kube-apiserver): the credentials
// endpoint certifies public keys and sends no private key, except the cluster's shared secrets
// to a Kubernetes controller; it serves only the node's own key and spec.roles; and
// kube-apiserver keeps Secrets encrypted in etcd.
import test from 'ava';
import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, credentials, status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import {
  IssueRoleCredentialsRequest,
  NodeCredentialsService,
  NodeLayout,
  RoleCredentials,
  certificateRoles,
  nodeCredentialsPort,
  type RolePublicKeys,
} from '@metropolis/api';
import { CertificateAuthority, KeyPair } from '@metropolis/pki';
import { agentRoots } from '@metropolis/process-node';
import { eventually } from '@metropolis/testing';
import { bootstrap, controlPlaneArgs, ownedBy, ownerKubeConfig } from './cluster-fixture.js';
import { TestNode, buildRelease, type Release } from './fixture-node.js';

let releases: string;
let v1: Release;

test.before(async () => {
  releases = await mkdtemp(join(tmpdir(), 'agent-credentials-'));
  v1 = await buildRelease(releases, 'v0.1.0');
});

test.after.always(async () => {
  await rm(releases, { recursive: true, force: true });
});

/**
 * What a private key looks like in any encoding a response or a log could carry it: PEM, and
 * the start of PKCS#8 DER for Ed25519 and for EC keys, raw and in base64.
 */
const privateKeyMarks: readonly Buffer[] = [
  Buffer.from('PRIVATE KEY'),
  Buffer.from('020100300506032b6570', 'hex'),
  Buffer.from('020100301306072a8648ce3d0201', 'hex'),
  Buffer.from('MC4CAQAwBQYDK2Vw'),
  Buffer.from('MIGHAgEAMBMGByqGSM49AgEG'),
];

function privateKeyIn(bytes: Buffer): string | undefined {
  return privateKeyMarks.find((mark) => bytes.includes(mark))?.toString('hex');
}

/** IssueRoleCredentials as the wire carries it: the response's bytes, undecoded. */
function issueRaw(client: Client, request: IssueRoleCredentialsRequest): Promise<Buffer> {
  const method = NodeCredentialsService.issueRoleCredentials;
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      method.path,
      method.requestSerialize,
      (bytes: Buffer) => bytes,
      request,
      (error: ServiceError | null, bytes?: Buffer) => {
        if (error) reject(error);
        else if (bytes === undefined) reject(new Error('empty response'));
        else resolve(bytes);
      },
    );
  });
}

/** Fresh keys for `names` and the request's public keys. */
async function keysFor(
  names: readonly (keyof RolePublicKeys)[],
): Promise<{ publicKeys: RolePublicKeys; pairs: Map<string, KeyPair> }> {
  const publicKeys: RolePublicKeys = {
    etcd: '',
    kubeApiserver: '',
    kubeApiserverEtcdClient: '',
    operator: '',
  };
  const pairs = new Map<string, KeyPair>();
  for (const name of names) {
    const pair = await KeyPair.generate();
    pairs.set(name, pair);
    publicKeys[name] = await pair.publicKeyPem();
  }
  return { publicKeys, pairs };
}

function certifiedKey(certificatePem: string): string {
  return String(
    new X509Certificate(certificatePem).publicKey.export({ type: 'spki', format: 'pem' }),
  ).trimEnd();
}

/** Every file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

test('the credentials endpoint certifies public keys: no private key on the wire or in the log but the shared secrets, and only for the node itself and its roles', async (t) => {
  const owner = await KeyPair.generate();
  const node = await TestNode.start(t, {
    release: v1,
    owned: false,
    agentArgs: controlPlaneArgs,
    parameters: await ownedBy(owner),
  });
  const { response } = await bootstrap(node.address, owner);
  const nodeId = response.nodeId;
  // The CA holder calls its own endpoint as any node would: with its node certificate and key.
  const layout = new NodeLayout(agentRoots(node.node.layout));
  const [caPem, nodeCertificate, nodeKey] = await Promise.all([
    readFile(layout.caCertificate, 'utf8'),
    readFile(layout.nodeCertificate, 'utf8'),
    readFile(layout.nodeKey, 'utf8'),
  ]);
  const endpoint = `${node.address}:${String(nodeCredentialsPort)}`;
  const client = new Client(
    endpoint,
    credentials.createSsl(Buffer.from(caPem), Buffer.from(nodeKey), Buffer.from(nodeCertificate)),
  );
  t.teardown(() => {
    client.close();
  });

  // A Kubernetes controller: certificates for its keys, with per-node names, and the shared
  // secrets; outside them, not one private key on the wire.
  const controller = await keysFor(['kubeApiserver', 'kubeApiserverEtcdClient', 'operator']);
  const controllerBytes = await eventually(() =>
    issueRaw(client, { roles: ['KubernetesController'], publicKeys: controller.publicKeys }),
  );
  const issued = RoleCredentials.decode(controllerBytes);
  t.true(
    Buffer.from(RoleCredentials.encode(issued).finish()).equals(controllerBytes),
    'the response holds nothing but the fields it declares',
  );
  const withoutShared = Buffer.from(
    RoleCredentials.encode({ ...issued, sharedSecrets: undefined }).finish(),
  );
  t.is(privateKeyIn(withoutShared), undefined, 'no private key outside shared_secrets');
  t.is(issued.etcdCertificate, '');
  const apiserver = new X509Certificate(issued.kubeApiserverCertificate);
  t.is(apiserver.subject, `CN=kube-apiserver:${nodeId}`);
  t.is(certifiedKey(issued.kubeApiserverCertificate), controller.publicKeys.kubeApiserver);
  t.is(
    certifiedKey(issued.kubeApiserverEtcdClientCertificate),
    controller.publicKeys.kubeApiserverEtcdClient,
  );
  const operator = new X509Certificate(issued.operatorCertificate);
  t.is(operator.subject, `O=${certificateRoles.operator}\nCN=operator:${nodeId}`);
  t.is(certifiedKey(issued.operatorCertificate), controller.publicKeys.operator);
  t.true(operator.verify(new X509Certificate(caPem).publicKey));
  const shared = issued.sharedSecrets;
  t.regex(shared?.serviceAccountSigningKey ?? '', /PRIVATE KEY/);
  t.regex(shared?.serviceAccountPublicKeys ?? '', /PUBLIC KEY/);
  t.deepEqual(
    shared?.secretsEncryptionKeys.map((key) => key.length),
    [32],
  );

  // A consensus member only: an etcd certificate, no shared secrets, no private key at all.
  const member = await keysFor(['etcd']);
  const memberBytes = await issueRaw(client, {
    roles: ['ConsensusMember'],
    publicKeys: member.publicKeys,
  });
  const memberIssued = RoleCredentials.decode(memberBytes);
  t.is(memberIssued.sharedSecrets, undefined);
  t.is(privateKeyIn(memberBytes), undefined);
  t.is(certifiedKey(memberIssued.etcdCertificate), member.publicKeys.etcd);
  t.is(memberIssued.operatorCertificate, '');

  // Keys that do not match the roles asked for are refused.
  const extra = await t.throwsAsync<ServiceError>(
    issueRaw(client, {
      roles: ['ConsensusMember'],
      publicKeys: { ...member.publicKeys, operator: controller.publicKeys.operator },
    }),
  );
  t.is(extra.code, grpcStatus.INVALID_ARGUMENT, extra.message);

  // A certificate of the cluster CA naming this node, for a key that is not the node's own.
  const ca = await CertificateAuthority.load(caPem, await readFile(layout.caKey, 'utf8'));
  const impostor = await ca.issue({
    commonName: nodeId,
    organizations: [certificateRoles.node],
    usages: ['client'],
  });
  const impostorClient = new Client(
    endpoint,
    credentials.createSsl(
      Buffer.from(caPem),
      Buffer.from(await impostor.keyPair.privateKeyPem()),
      Buffer.from(impostor.certificatePem),
    ),
  );
  t.teardown(() => {
    impostorClient.close();
  });
  const notTheNodeKey = await t.throwsAsync<ServiceError>(
    issueRaw(impostorClient, { roles: ['ConsensusMember'], publicKeys: member.publicKeys }),
  );
  t.is(notTheNodeKey.code, grpcStatus.PERMISSION_DENIED, notTheNodeKey.message);
  t.regex(notTheNodeKey.details, /not the key node .* registered with/);

  // A role its MonogonNode's spec.roles do not grant (any more).
  const kc = ownerKubeConfig(response, await owner.privateKeyPem());
  await kc.makeApiClient(CustomObjectsApi).patchClusterCustomObject(
    {
      group: 'metropolis.monogon.dev',
      version: 'v1alpha1',
      plural: 'monogonnodes',
      name: nodeId,
      body: { spec: { roles: ['ConsensusMember'] } },
    },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  const notItsRole = await t.throwsAsync<ServiceError>(
    issueRaw(client, { roles: ['KubernetesController'], publicKeys: controller.publicKeys }),
  );
  t.is(notItsRole.code, grpcStatus.PERMISSION_DENIED, notItsRole.message);
  t.regex(notItsRole.details, /spec\.roles .* do not include KubernetesController/);

  // The agent's log tells of every issue, and never with a private key in it.
  const log = await readFile(node.node.layout.consoleLog);
  t.true(log.includes('role credentials issued'));
  const leaking = log
    .toString('utf8')
    .split('\n')
    .filter((line) => privateKeyIn(Buffer.from(line)) !== undefined);
  t.deepEqual(leaking, []);

  // The node's own controller credentials: its shared secrets in files only it reads.
  const encryptionConfig = join(layout.controlPlanePki, 'encryption-config.yaml');
  t.is((await stat(encryptionConfig)).mode & 0o777, 0o600);
  t.is((await stat(layout.secretsEncryptionKeys)).mode & 0o777, 0o600);
});

test('kube-apiserver keeps a Secret encrypted in etcd and reads it back in clear', async (t) => {
  const owner = await KeyPair.generate();
  const node = await TestNode.start(t, {
    release: v1,
    owned: false,
    agentArgs: controlPlaneArgs,
    parameters: await ownedBy(owner),
  });
  const { response } = await bootstrap(node.address, owner);
  const core = ownerKubeConfig(response, await owner.privateKeyPem()).makeApiClient(CoreV1Api);
  const plain = `plain-${randomBytes(12).toString('hex')}`;
  const name = `at-rest-${randomBytes(4).toString('hex')}`;
  await core.createNamespacedSecret({
    namespace: 'default',
    body: { metadata: { name }, stringData: { value: plain } },
  });
  const read = await core.readNamespacedSecret({ name, namespace: 'default' });
  t.is(Buffer.from(read.data?.['value'] ?? '', 'base64').toString('utf8'), plain);

  // etcd's own files (its write-ahead log and database) hold the Secret's key, and its value
  // only as secretbox ciphertext.
  const layout = new NodeLayout(agentRoots(node.node.layout));
  const key = Buffer.from(`/registry/secrets/default/${name}`);
  const stored = await eventually(async () => {
    const files = await filesUnder(layout.etcdData);
    const contents = await Promise.all(files.map((file) => readFile(file)));
    if (!contents.some((content) => content.includes(key))) throw new Error('not in etcd yet');
    return contents;
  });
  t.true(stored.some((content) => content.includes('k8s:enc:secretbox:v1:')));
  t.false(
    stored.some((content) => content.includes(plain)),
    'the value is nowhere in etcd in plain text',
  );
});

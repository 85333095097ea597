// Bootstrap on a real process node: an unowned node serves only NodeBootstrap (TLS, trusted on
// first use), and only to an owner key its parameters list (or anyone, with
// --insecure-bootstrap); one call creates the cluster CA, starts a real etcd and kube-apiserver
// in the node's namespace, installs the API and the node's own MonogonNode, and makes the caller
// the owner. After a power cut the node brings its control plane back by itself.
import test from 'ava';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, credentials, status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { NodeManagementClient, nodeManagementPort, type NodeStatus } from '@metropolis/api';
import { readyz } from '@metropolis/control-plane';
import { KeyPair } from '@metropolis/pki';
import { eventually, neverWithin } from '@metropolis/testing';
import {
  bootstrap,
  bootstrapOnce,
  controlPlaneArgs,
  fetchCertificate,
  ownedBy,
  ownerKubeConfig,
  pathExists,
} from './cluster-fixture.js';
import { TestNode, buildRelease, unary, type Release } from './fixture-node.js';

let releases: string;
let v1: Release;

test.before(async () => {
  releases = await mkdtemp(join(tmpdir(), 'agent-bootstrap-'));
  v1 = await buildRelease(releases, 'v0.1.0');
});

test.after.always(async () => {
  await rm(releases, { recursive: true, force: true });
});

interface MonogonNodeObject {
  metadata?: { name?: string };
  spec?: { roles?: string[]; approved?: boolean };
  status?: { state?: string; address?: string };
}

test('an unowned node bootstraps a cluster with a real etcd and kube-apiserver and comes back after a power cut', async (t) => {
  const binaries = {
    etcd: process.env['METROPOLIS_ETCD'] ?? '',
    kubeApiserver: process.env['METROPOLIS_KUBE_APISERVER'] ?? '',
  };
  const owner = await KeyPair.generate();
  const node = await TestNode.start(t, {
    release: v1,
    owned: false,
    agentArgs: ['--etcd', binaries.etcd, '--kube-apiserver', binaries.kubeApiserver],
    parameters: await ownedBy(owner),
  });

  // Only the owner key of the node parameters may bootstrap, and only its holder: a stranger's
  // key is refused, and so is the owner's key with a proof the stranger signed.
  const stranger = await KeyPair.generate();
  for (const [key, signer] of [
    [stranger, stranger],
    [owner, stranger],
  ] as const) {
    const refused = await t.throwsAsync<ServiceError>(bootstrap(node.address, key, signer));
    t.is(refused.code, grpcStatus.PERMISSION_DENIED, refused.message);
  }
  t.false(await pathExists(node.agentLayout.pkiDir), 'still unowned: no cluster files');

  const { response, servedBy } = await bootstrap(node.address, owner);

  t.regex(response.nodeId, /^metropolis-[0-9a-f]{32}$/);
  t.is(servedBy, response.nodeId, 'the TOFU certificate names the node');
  t.is(response.kubernetesEndpoint, `https://${node.address}:6443`);
  const ca = new X509Certificate(response.caCertificate);
  const ownerCert = new X509Certificate(response.ownerCertificate);
  t.true(ca.ca);
  t.true(ownerCert.verify(ca.publicKey));
  t.is(ownerCert.subject, 'O=metropolis:owner\nCN=owner');

  // The owner reaches Kubernetes with the same certificate, as cluster-admin.
  const ownerCredentials = {
    caPem: response.caCertificate,
    certificatePem: response.ownerCertificate,
    keyPem: await owner.privateKeyPem(),
  };
  t.is(await readyz(response.kubernetesEndpoint, ownerCredentials), 'ok');
  const kc = ownerKubeConfig(response, ownerCredentials.keyPem);
  const objects = kc.makeApiClient(CustomObjectsApi);
  const own = (await objects.getClusterCustomObject({
    group: 'metropolis.monogon.dev',
    version: 'v1alpha1',
    plural: 'monogonnodes',
    name: response.nodeId,
  })) as MonogonNodeObject;
  t.deepEqual(own.spec?.roles, ['ConsensusMember', 'KubernetesController']);
  t.true(own.spec?.approved);
  t.is(own.status?.state, 'UP');
  t.is(own.status?.address, node.address);
  // The installed API validates as its YAML says: no controller without consensus.
  const refused = await t.throwsAsync(
    objects.patchClusterCustomObject(
      {
        group: 'metropolis.monogon.dev',
        version: 'v1alpha1',
        plural: 'monogonnodes',
        name: response.nodeId,
        body: { spec: { roles: ['KubernetesController'] } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    ),
    { instanceOf: ApiException },
  );
  t.is(refused.code, 422, 'Unprocessable: refused by validation');
  t.regex(refused.message, /the KubernetesController role requires the ConsensusMember role/);

  // The management API now requires the cluster CA, and accepts the owner.
  const management = new NodeManagementClient(
    `${node.address}:${String(nodeManagementPort)}`,
    credentials.createSsl(
      Buffer.from(response.caCertificate),
      Buffer.from(ownerCredentials.keyPem),
      Buffer.from(response.ownerCertificate),
    ),
  );
  t.teardown(() => {
    management.close();
  });
  const status = await eventually(() => unary<NodeStatus>((cb) => management.getStatus({}, cb)));
  t.is(status.nodeId, response.nodeId);
  t.deepEqual(status.roles, ['ConsensusMember', 'KubernetesController']);

  // A power cut: etcd's data survives on the data partition, and the node restarts its control plane.
  const boots = (await node.node.boots()).length;
  await node.node.powerCut();
  await node.node.waitForBoot(boots + 1, 30_000);
  // Right after a restart kube-apiserver answers 403 until its RBAC cache has synced.
  const ready = async (): Promise<string> => {
    const body = await readyz(response.kubernetesEndpoint, ownerCredentials);
    if (body !== 'ok') throw new Error(body);
    return body;
  };
  t.is(await eventually(ready, 120_000), 'ok');
  const again = (await objects.getClusterCustomObject({
    group: 'metropolis.monogon.dev',
    version: 'v1alpha1',
    plural: 'monogonnodes',
    name: response.nodeId,
  })) as MonogonNodeObject;
  t.is(again.metadata?.name, response.nodeId);

  // Bootstrapping an owned node is refused: it no longer serves the unauthenticated endpoint.
  // It presents its cluster certificate, which a first-use pin cannot verify.
  const served = new X509Certificate(await fetchCertificate(node.address));
  t.true(served.checkIssued(ca), 'the node serves the certificate the cluster CA issued it');
  const owned = await t.throwsAsync<ServiceError>(
    bootstrapOnce(node.address, await KeyPair.generate()),
  );
  t.is(owned.code, grpcStatus.UNAVAILABLE, owned.message);
  t.regex(owned.details, /self-signed certificate in certificate chain/);
});

test('a node with a register ticket registers as NEW and joins once approved', async (t) => {
  const binaries = controlPlaneArgs;
  // Without an owner key in its parameters, --insecure-bootstrap lets any key bootstrap, and the
  // node says so at every start.
  const first = await TestNode.start(t, {
    release: v1,
    owned: false,
    agentArgs: [...binaries, '--insecure-bootstrap'],
  });
  const insecure = await first.logged(
    'INSECURE: --insecure-bootstrap: while unowned and without bootstrap.ownerPublicKeys in its parameters, this node lets anyone who reaches it first become the owner of a new cluster',
  );
  t.is(insecure.level, 'warn');
  const owner = await KeyPair.generate();
  const { response } = await bootstrap(first.address, owner);
  const ownerKey = await owner.privateKeyPem();
  const kc = ownerKubeConfig(response, ownerKey);
  const secret = await kc
    .makeApiClient(CoreV1Api)
    .readNamespacedSecret({ name: 'register-ticket', namespace: 'monogon-system' });
  const ticket = Buffer.from(secret.data?.['ticket'] ?? '', 'base64').toString('utf8');
  t.true(ticket.length > 20);

  const second = await TestNode.start(t, {
    release: v1,
    owned: false,
    network: first.network,
    parameters: {
      cluster: {
        caCertificate: response.caCertificate,
        registerTicket: ticket,
        endpoints: [first.address],
      },
    },
  });
  const objects = kc.makeApiClient(CustomObjectsApi);
  const nodes = async (): Promise<MonogonNodeObject[]> =>
    (
      (await objects.listClusterCustomObject({
        group: 'metropolis.monogon.dev',
        version: 'v1alpha1',
        plural: 'monogonnodes',
      })) as { items: MonogonNodeObject[] }
    ).items;
  const registered = await eventually(async () => {
    const found = (await nodes()).find((node) => node.status?.address === second.address);
    if (!found) throw new Error('not registered yet');
    return found;
  });
  t.is(registered.status?.state, 'NEW');
  t.false(registered.spec?.approved);
  const secondId = registered.metadata?.name ?? '';

  const management = new NodeManagementClient(
    `${second.address}:${String(nodeManagementPort)}`,
    credentials.createSsl(
      Buffer.from(response.caCertificate),
      Buffer.from(ownerKey),
      Buffer.from(response.ownerCertificate),
    ),
  );
  t.teardown(() => {
    management.close();
  });
  // Not approved: the node has no certificate and serves no management API.
  const unapproved = await t.throwsAsync<ServiceError>(
    unary<NodeStatus>((cb) =>
      management.getStatus({}, new Metadata(), { deadline: Date.now() + 2000 }, cb),
    ),
  );
  t.is(unapproved.code, grpcStatus.UNAVAILABLE, unapproved.message);
  t.regex(unapproved.details, /ECONNREFUSED/, 'nothing listens on the management port');

  await objects.patchClusterCustomObject(
    {
      group: 'metropolis.monogon.dev',
      version: 'v1alpha1',
      plural: 'monogonnodes',
      name: secondId,
      body: { spec: { approved: true } },
    },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  const status = await eventually(() => unary<NodeStatus>((cb) => management.getStatus({}, cb)));
  t.is(status.nodeId, secondId);

  // A wrong ticket is refused.
  const stranger = await TestNode.start(t, {
    release: v1,
    owned: false,
    network: first.network,
    parameters: {
      cluster: {
        caCertificate: response.caCertificate,
        registerTicket: 'wrong',
        endpoints: [first.address],
      },
    },
  });
  // It tries, and the registration server refuses it (as the stranger's console shows)...
  await eventually(async () => {
    const console = await readFile(stranger.node.layout.consoleLog, 'utf8');
    const refusal = console
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { message?: unknown; error?: unknown })
      .find(
        (entry) =>
          entry.message === 'registration failed' &&
          entry.error === '7 PERMISSION_DENIED: wrong register ticket',
      );
    if (refusal === undefined) throw new Error('not refused yet');
  });
  // ...then and over its next tries (every 2 s) it never shows up as a node.
  await neverWithin(5_000, async () =>
    (await nodes()).some((node) => node.status?.address === stranger.address)
      ? `the stranger at ${stranger.address} registered`
      : undefined,
  );
  t.pass('a wrong ticket registers nothing');
});

test('an unowned node with neither an owner key nor --insecure-bootstrap serves no bootstrap, and says why', async (t) => {
  const node = await TestNode.start(t, { release: v1, owned: false });
  const reason = await node.logged(
    'node not owned, and serving no bootstrap: its parameters list no owner key (bootstrap.ownerPublicKeys) and --insecure-bootstrap is not set',
  );
  t.is(reason.level, 'warn');
  await neverWithin(3_000, async () => {
    const error = await fetchCertificate(node.address).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    return (error as { code?: unknown } | undefined)?.code === 'ECONNREFUSED'
      ? undefined
      : 'something serves on the management port';
  });
  t.false(await pathExists(node.agentLayout.pkiDir));

  // A malformed owner list is no reason to boot for ever: it serves nothing and says so.
  const malformed = await TestNode.start(t, {
    release: v1,
    owned: false,
    parameters: { bootstrap: { ownerPublicKeys: ['not a key'] } },
  });
  const unusable = await malformed.logged(
    'node not owned, and serving no bootstrap: unusable owner keys',
  );
  t.is(unusable.level, 'error');
  t.is((await malformed.node.boots()).length, 1, 'one boot: the agent keeps running');
});

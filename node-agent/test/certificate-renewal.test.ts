// Bounded certificate lifetimes on a real CA-holding node (real etcd, kube-apiserver, operator):
// its node and role certificates are renewed before they expire and the cluster works after the
// first ones expired; a node whose MonogonNode is gone is refused a renewal; metroctl renews
// the owner certificate.
import test from 'ava';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, credentials, status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import {
  NodeCredentialsClient,
  NodeLayout,
  NodeManagementClient,
  certificateRoles,
  nodeCredentialsPort,
  nodeIdOf,
  nodeManagementPort,
  type BootstrapResponse,
  type NodeStatus,
  type RenewNodeCertificateResponse,
} from '@metropolis/api';
import { CertificateAuthority, KeyPair } from '@metropolis/pki';
import { agentRoots } from '@metropolis/process-node';
import { eventually } from '@metropolis/testing';
import {
  bootstrap,
  controlPlaneArgs,
  fetchCertificate,
  ownedBy,
  ownerKubeConfig,
} from './cluster-fixture.js';
import { TestNode, buildRelease, unary, type Release } from './fixture-node.js';

/** Short enough to see a renewal and an expiry within a test; kube-apiserver rereads its serving certificate at least every minute. */
const lifetimeMs = 3 * 60_000;
const group = { group: 'metropolis.monogon.dev', version: 'v1alpha1', plural: 'monogonnodes' };

let releases: string;
let v1: Release;
const teardowns: (() => unknown)[] = [];
let node: TestNode;
let layout: NodeLayout;
let response: BootstrapResponse;
let owner: KeyPair;
/** The certificates as the bootstrap issued them. */
let first: Map<string, string>;

/** The node certificate and the role certificates, by file. */
function certificateFiles(): string[] {
  const pki = layout.controlPlanePki;
  return [
    layout.nodeCertificate,
    join(pki, 'etcd.pem'),
    join(pki, 'kube-apiserver.pem'),
    join(pki, 'kube-apiserver-etcd-client.pem'),
    join(pki, 'operator.pem'),
  ];
}

async function readCertificates(): Promise<Map<string, string>> {
  const files = certificateFiles();
  const pems = await Promise.all(files.map((file) => readFile(file, 'utf8')));
  return new Map(files.map((file, i) => [file, pems[i] ?? '']));
}

const notAfter = (pem: string): number => Date.parse(new X509Certificate(pem).validTo);

test.before(async () => {
  releases = await mkdtemp(join(tmpdir(), 'agent-renewal-'));
  // With the operator: its heartbeats show it works with its renewed certificate.
  v1 = await buildRelease(releases, 'v0.1.0', []);
  owner = await KeyPair.generate();
  node = await TestNode.start(
    { teardown: (fn) => teardowns.push(fn) },
    {
      release: v1,
      owned: false,
      agentArgs: [
        ...controlPlaneArgs,
        '--certificate-lifetime',
        `${String(lifetimeMs / 1000)}s`,
        '--owner-certificate-lifetime',
        '1h',
      ],
      parameters: await ownedBy(owner),
    },
  );
  ({ response } = await bootstrap(node.address, owner));
  layout = new NodeLayout(agentRoots(node.node.layout));
  first = await eventually(readCertificates);
});

test.after.always(async () => {
  for (const teardown of teardowns.reverse()) await teardown();
  await rm(releases, { recursive: true, force: true });
});

/** A NodeCredentials client with `certificatePem` and `keyPem` (the cluster CA trusted). */
function credentialsClient(certificatePem: string, keyPem: string): NodeCredentialsClient {
  const client = new NodeCredentialsClient(
    `${node.address}:${String(nodeCredentialsPort)}`,
    credentials.createSsl(
      Buffer.from(response.caCertificate),
      Buffer.from(keyPem),
      Buffer.from(certificatePem),
    ),
  );
  teardowns.push(() => {
    client.close();
  });
  return client;
}

function renewNode(client: NodeCredentialsClient): Promise<RenewNodeCertificateResponse> {
  return unary<RenewNodeCertificateResponse>((callback) =>
    client.renewNodeCertificate({}, new Metadata(), { deadline: Date.now() + 10_000 }, callback),
  );
}

test.serial('a node whose MonogonNode is gone is refused a new node certificate', async (t) => {
  const ca = await CertificateAuthority.load(
    response.caCertificate,
    await readFile(layout.caKey, 'utf8'),
  );
  // A node of this cluster, as Register and Commit would have made it.
  const key = await KeyPair.generate();
  const nodeId = nodeIdOf(await key.rawPublicKey());
  const certificatePem = await ca.certify(key.publicKey, {
    commonName: nodeId,
    organizations: [certificateRoles.node],
    usages: ['server', 'client'],
  });
  const objects = ownerKubeConfig(response, await owner.privateKeyPem()).makeApiClient(
    CustomObjectsApi,
  );
  await objects.createClusterCustomObject({
    ...group,
    body: {
      apiVersion: 'metropolis.monogon.dev/v1alpha1',
      kind: 'MonogonNode',
      metadata: { name: nodeId },
      spec: { approved: true, roles: [] },
    },
  });
  await objects.patchClusterCustomObjectStatus(
    { ...group, name: nodeId, body: { status: { address: '10.99.0.1' } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  const client = credentialsClient(certificatePem, await key.privateKeyPem());
  const renewed = await renewNode(client);
  const certificate = new X509Certificate(renewed.nodeCertificate);
  t.is(certificate.subject, `O=${certificateRoles.node}\nCN=${nodeId}`);
  t.true(certificate.checkIP('10.99.0.1') !== undefined);

  await objects.deleteClusterCustomObject({ ...group, name: nodeId });
  const refused = await t.throwsAsync<ServiceError>(renewNode(client));
  t.is(refused.code, grpcStatus.PERMISSION_DENIED, refused.message);
  t.regex(refused.details, /not in the cluster/);
});

test.serial('metroctl cluster renew-owner: a later notAfter, same key, and it works', async (t) => {
  const home = await mkdtemp(join(tmpdir(), 'renew-owner-'));
  t.teardown(() => rm(home, { recursive: true, force: true }));
  const config = join(home, 'metroctl');
  await mkdir(config, { mode: 0o700 });
  await writeFile(join(config, 'owner-key.pem'), await owner.privateKeyPem(), { mode: 0o600 });
  await chmod(join(config, 'owner-key.pem'), 0o600);
  await writeFile(join(config, 'owner.pem'), response.ownerCertificate);
  await writeFile(join(config, 'ca.pem'), response.caCertificate);
  await writeFile(
    join(config, 'config.json'),
    JSON.stringify({
      endpoints: [node.address],
      nodeId: response.nodeId,
      kubernetesEndpoint: response.kubernetesEndpoint,
    }),
  );
  // X.509 times have whole seconds: a renewal within the bootstrap's second would tie.
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  const run = await runMetroctl(['--config', config, 'cluster', 'renew-owner'], home);
  t.is(run.code, 0, run.stderr);
  t.regex(run.stdout, /owner certificate renewed: valid until/);
  const renewedPem = await readFile(join(config, 'owner.pem'), 'utf8');
  t.true(notAfter(renewedPem) > notAfter(response.ownerCertificate));
  const renewed = new X509Certificate(renewedPem);
  t.is(
    String(renewed.publicKey.export({ type: 'spki', format: 'pem' })).trimEnd(),
    await owner.publicKeyPem(),
  );
  // The renewed certificate is the owner's in Kubernetes and on the management API.
  const kc = ownerKubeConfig(
    { ...response, ownerCertificate: renewedPem },
    await owner.privateKeyPem(),
  );
  await kc
    .makeApiClient(CustomObjectsApi)
    .getClusterCustomObject({ ...group, name: response.nodeId });
  const status = await managementStatus(renewedPem);
  t.is(status.nodeId, response.nodeId);
});

test.serial(
  'node and role certificates are renewed before they expire, and the node serves on after the first ones expired',
  async (t) => {
    t.timeout(lifetimeMs + 3 * 60_000);
    const expiry = Math.max(...[...first.values()].map(notAfter));
    t.true(expiry <= Date.now() + lifetimeMs, 'the bootstrap issued short-lived certificates');
    // Each certificate is replaced by one for the same key that expires later, before it expired.
    const renewed = await eventually(
      async () => {
        const now = await readCertificates();
        for (const [file, pem] of first) {
          const next = now.get(file) ?? '';
          if (notAfter(next) <= notAfter(pem)) throw new Error(`${file} not renewed yet`);
        }
        return now;
      },
      lifetimeMs,
      1_000,
    );
    t.true(Date.now() < expiry, 'renewed before the first certificates expired');
    for (const [file, pem] of first) {
      const [before, after] = [pem, renewed.get(file) ?? ''].map((text) =>
        String(new X509Certificate(text).publicKey.export({ type: 'spki', format: 'pem' })),
      );
      t.is(after, before, `${file}: the same key`);
    }
    // The management API serves the renewed node certificate.
    const served = await eventually(async () => {
      const pem = await fetchCertificate(node.address);
      if (pem.trim() !== (renewed.get(layout.nodeCertificate) ?? '').trim()) {
        throw new Error('the management API serves the first node certificate');
      }
      return pem;
    });
    t.true(notAfter(served) > notAfter(first.get(layout.nodeCertificate) ?? ''));

    // Past the first certificates' expiry, everything still answers, checked by the clients.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiry - Date.now() + 2_000)));
    const objects = ownerKubeConfig(response, await owner.privateKeyPem()).makeApiClient(
      CustomObjectsApi,
    );
    const heartbeat = async (): Promise<number> => {
      const object = (await objects.getClusterCustomObject({
        ...group,
        name: response.nodeId,
      })) as {
        status?: { lastHeartbeat?: string };
      };
      return Date.parse(object.status?.lastHeartbeat ?? '');
    };
    // The operator (restarted with its renewed certificate) reaches kube-apiserver and the node.
    const since = Date.now();
    await eventually(async () => {
      if (!((await heartbeat()) > since)) throw new Error('no heartbeat since the expiry');
    }, 60_000);
    const status = await managementStatus(response.ownerCertificate);
    t.is(status.nodeId, response.nodeId);
    // The CA holder's credentials server serves (its own certificate was renewed too) and
    // renews for the node's current certificate.
    const current = await readFile(layout.nodeCertificate, 'utf8');
    const again = await renewNode(
      credentialsClient(current, await readFile(layout.nodeKey, 'utf8')),
    );
    t.true(notAfter(again.nodeCertificate) >= notAfter(current));
  },
);

async function managementStatus(ownerCertificate: string): Promise<NodeStatus> {
  const client = new NodeManagementClient(
    `${node.address}:${String(nodeManagementPort)}`,
    credentials.createSsl(
      Buffer.from(response.caCertificate),
      Buffer.from(await owner.privateKeyPem()),
      Buffer.from(ownerCertificate),
    ),
  );
  try {
    return await unary<NodeStatus>((callback) =>
      client.getStatus({}, new Metadata(), { deadline: Date.now() + 10_000 }, callback),
    );
  } finally {
    client.close();
  }
}

/** metroctl as its user runs it: its own process, on the source, with HOME set to `home`. */
function runMetroctl(
  args: readonly string[],
  home: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const main = join(import.meta.dirname, '..', '..', 'metroctl', 'src', 'main.ts');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import=tsx', '--conditions=source', main, ...args], {
      env: { PATH: process.env['PATH'] ?? '', HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

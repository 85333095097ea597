// The listener matrix of docs/security.md, measured: every listener of a launched cluster (a
// node's management API, an unowned node's bootstrap, registration and credentials on the CA
// holder, a member's etcd client and peer ports, kube-apiserver, the operator's metrics) called
// with every kind of certificate (none, a stranger's CA, a node's, a removed node's, an
// operator's, the owner's). The suite prints what it measured and fails on any cell that differs
// from the document's table.
import test from 'ava';
import { createPublicKey } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import { CustomObjectsApi } from '@kubernetes/client-node';
import {
  BootstrapRequest,
  IssueRoleCredentialsRequest,
  NodeBootstrapClient,
  NodeCredentialsClient,
  NodeLayout,
  NodeManagementClient,
  NodeRegistrationClient,
  RegisterRequest,
  certificateRoles,
  controlPlanePorts,
  monogonNodeResource,
  nodeCredentialsPort,
  nodeManagementPort,
  nodeRegistrationPort,
} from '@metropolis/api';
import { silentLogger } from '@metropolis/logging';
import { ConfigStore, bootstrapCluster } from '@metropolis/metroctl';
import { workspacePaths } from '@metropolis/os-image';
import { CertificateAuthority, KeyPair } from '@metropolis/pki';
import { ProcessNode, agentRoots } from '@metropolis/process-node';
import { eventually, launchLeasedCluster, type LeasedCluster } from '../harness/index.js';
import {
  grpcTls,
  probeGrpc,
  probeHttp,
  probeHttps,
  reachable,
  unary,
  type ClientCertificate,
} from '../harness/listener-probes.js';
import {
  callerKinds,
  formatMatrix,
  matrixDifferences,
  parseExpectedMatrix,
  type CallerKind,
  type MeasuredCell,
} from '../harness/security-matrix.js';

/** A caller: the certificate it presents (if any) and the raw Ed25519 key it holds. */
interface Caller {
  readonly kind: CallerKind;
  readonly certificate: ClientCertificate | undefined;
  readonly publicKey: Buffer;
}

/** A listener of the matrix: its name in the document's table and its probe. */
interface Listener {
  readonly name: string;
  probe(caller: Caller): Promise<MeasuredCell>;
}

const bootstrapTimeoutMs = 120_000;

let leased: LeasedCluster;
let unowned: ProcessNode | undefined;

test.before(async () => {
  leased = await launchLeasedCluster({ name: 'security', nodes: 3 });
});

test.after.always(async () => {
  await unowned?.shutdown();
  await leased.stop();
});

/** The agent's view of launched node `index`'s storage: where its keys and certificates are. */
function agentLayout(index: number): NodeLayout {
  const node = leased.cluster.nodes[index];
  if (node === undefined) throw new Error(`no node ${String(index)}`);
  return new NodeLayout(agentRoots(node.layout));
}

async function callerWith(
  kind: CallerKind,
  files: { certificate: string; key: string },
): Promise<Caller> {
  const [certificatePem, keyPem] = await Promise.all([
    readFile(files.certificate, 'utf8'),
    readFile(files.key, 'utf8'),
  ]);
  const keyPair = await KeyPair.fromPrivateKeyPem(keyPem);
  return {
    kind,
    certificate: { certificatePem, keyPem },
    publicKey: Buffer.from(await keyPair.rawPublicKey()),
  };
}

/** One caller of each kind, from the launched cluster's files (node 2 is removed first). */
async function callers(): Promise<Caller[]> {
  const fresh = await KeyPair.generate();
  const stranger = await CertificateAuthority.create({ commonName: 'stranger CA' });
  // The stranger claims the most it could: an owner certificate, from its own CA.
  const strangerCertificate = await stranger.issue({
    commonName: 'stranger',
    organizations: [certificateRoles.owner],
    usages: ['client', 'server'],
  });
  const nodeFiles = (index: number) => ({
    certificate: agentLayout(index).nodeCertificate,
    key: agentLayout(index).nodeKey,
  });
  const controlPlane = agentLayout(0).controlPlanePki;
  const { configDir } = leased.cluster;
  return [
    { kind: 'none', certificate: undefined, publicKey: Buffer.from(await fresh.rawPublicKey()) },
    {
      kind: "stranger's CA",
      certificate: {
        certificatePem: strangerCertificate.certificatePem,
        keyPem: await strangerCertificate.keyPair.privateKeyPem(),
      },
      publicKey: Buffer.from(await strangerCertificate.keyPair.rawPublicKey()),
    },
    await callerWith('node', nodeFiles(1)),
    await callerWith('removed node', nodeFiles(2)),
    await callerWith('operator', {
      certificate: join(controlPlane, 'operator.pem'),
      key: join(controlPlane, 'operator-key.pem'),
    }),
    await callerWith('owner', {
      certificate: join(configDir, 'owner.pem'),
      key: join(configDir, 'owner-key.pem'),
    }),
  ];
}

/** Deletes node 2's MonogonNode and waits until the API no longer has it. */
async function removeNode(): Promise<void> {
  const objects = leased.cluster.kubeConfig.makeApiClient(CustomObjectsApi);
  const name = leased.cluster.nodeIds[2] ?? '';
  await objects.deleteClusterCustomObject({ ...monogonNodeResource, name });
  await eventually(async () => {
    const gone = await objects.getClusterCustomObject({ ...monogonNodeResource, name }).then(
      () => false,
      () => true,
    );
    if (!gone) throw new Error(`MonogonNode ${name} is still there`);
  }, 30_000);
}

/**
 * A fresh node on the cluster's network that belongs to no cluster: its parameters name the
 * owner's public key as the one that may bootstrap it (and mark it a development node, since
 * it trusts the committed development release key).
 */
async function startUnownedNode(): Promise<ProcessNode> {
  const { cluster } = leased;
  const ownerKeyPem = await readFile(join(cluster.configDir, 'owner-key.pem'), 'utf8');
  const ownerPublicKey = createPublicKey(ownerKeyPem).export({ type: 'spki', format: 'pem' });
  const name = `${leased.prefix}-${String(cluster.nodes.length)}`;
  const node = await ProcessNode.create({
    dir: join(leased.dir, 'cluster', name),
    name,
    network: cluster.network,
    agentArgs: [
      '--etcd',
      process.env['METROPOLIS_ETCD'] ?? '',
      '--kube-apiserver',
      process.env['METROPOLIS_KUBE_APISERVER'] ?? '',
    ],
    parameters: {
      releaseKeys: [await readFile(workspacePaths().devReleaseKey.publicKeyPem, 'utf8')],
      development: true,
      bootstrap: { ownerPublicKeys: [ownerPublicKey.toString()] },
    },
  });
  unowned = node;
  await node.install(cluster.release);
  await node.powerOn();
  const address = node.address ?? '';
  await eventually(async () => {
    if (!(await reachable(address, nodeManagementPort)).open) {
      throw new Error(
        `the unowned node ${address} serves nothing on ${String(nodeManagementPort)}`,
      );
    }
  }, 60_000);
  return node;
}

/** The owner bootstraps the unowned node as metroctl does, from a config holding its key. */
async function ownerBootstraps(address: string): Promise<void> {
  const dir = join(leased.dir, 'second-owner');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const config = new ConfigStore(dir);
  await copyFile(join(leased.cluster.configDir, 'owner-key.pem'), config.paths.ownerKey);
  await chmod(config.paths.ownerKey, 0o600);
  await bootstrapCluster({
    endpoint: address,
    config,
    kubeconfigPath: join(dir, 'kubeconfig'),
    contextName: 'second',
    logger: silentLogger,
    notice: () => undefined,
    timeoutMs: bootstrapTimeoutMs,
  });
}

function listeners(unownedAddress: string): Listener[] {
  const [holder = '', joined = ''] = leased.cluster.endpoints;
  const grpcAt = (host: string, port: number) => ({
    host,
    port,
    target: `${host}:${String(port)}`,
  });
  const management = grpcAt(joined, nodeManagementPort);
  const registration = grpcAt(holder, nodeRegistrationPort);
  const credentials = grpcAt(holder, nodeCredentialsPort);
  const bootstrap = grpcAt(unownedAddress, nodeManagementPort);
  const { group, version, plural } = monogonNodeResource;
  return [
    {
      name: 'management 7839 (owned node)',
      probe: (caller) =>
        probeGrpc(management, async () => {
          const client = new NodeManagementClient(management.target, grpcTls(caller.certificate));
          try {
            await unary((options, done) => client.getStatus({}, new Metadata(), options, done));
          } finally {
            client.close();
          }
        }),
    },
    {
      name: 'registration 7836 (CA holder)',
      // A certificate alone, without the register ticket: the ticket is what admits a Register.
      probe: (caller) =>
        probeGrpc(registration, async () => {
          const client = new NodeRegistrationClient(
            registration.target,
            grpcTls(caller.certificate),
          );
          const request = RegisterRequest.fromPartial({
            nodePublicKey: caller.publicKey,
            address: leased.lease.hostAddress,
          });
          try {
            await unary((options, done) => client.register(request, new Metadata(), options, done));
          } finally {
            client.close();
          }
        }),
    },
    {
      name: 'credentials 7837 (CA holder)',
      probe: (caller) =>
        probeGrpc(credentials, async () => {
          const client = new NodeCredentialsClient(credentials.target, grpcTls(caller.certificate));
          const request = IssueRoleCredentialsRequest.fromPartial({ roles: [] });
          try {
            await unary((options, done) =>
              client.issueRoleCredentials(request, new Metadata(), options, done),
            );
          } finally {
            client.close();
          }
        }),
    },
    {
      name: 'etcd client 2379 (member)',
      probe: (caller) =>
        probeHttps(
          {
            host: holder,
            port: controlPlanePorts.etcdClient,
            path: '/v3/kv/range',
            method: 'POST',
            body: JSON.stringify({ key: Buffer.from('/').toString('base64') }),
          },
          caller.certificate,
        ),
    },
    {
      name: 'etcd peer 2380 (member)',
      probe: (caller) =>
        probeHttps(
          { host: holder, port: controlPlanePorts.etcdPeer, path: '/members' },
          caller.certificate,
        ),
    },
    {
      name: 'kube-apiserver 6443',
      probe: (caller) =>
        probeHttps(
          {
            host: holder,
            port: controlPlanePorts.kubeApiserver,
            path: `/apis/${group}/${version}/${plural}`,
          },
          caller.certificate,
        ),
    },
    {
      name: 'operator metrics 7841',
      // Plain HTTP: no caller can present a certificate, so every column asks the same.
      probe: () =>
        probeHttp({ host: holder, port: controlPlanePorts.operatorMetrics, path: '/metrics' }),
    },
    {
      name: 'bootstrap 7839 (unowned node)',
      // Measured last, the owner last of all: an allowed Bootstrap makes the node owned.
      probe: (caller) =>
        probeGrpc(bootstrap, async () => {
          if (caller.kind === 'owner') {
            await ownerBootstraps(unownedAddress);
            return;
          }
          // Anyone else asks to become the owner with its own key.
          const client = new NodeBootstrapClient(bootstrap.target, grpcTls(caller.certificate));
          const request = BootstrapRequest.fromPartial({ ownerPublicKey: caller.publicKey });
          try {
            await unary(
              (options, done) => client.bootstrap(request, new Metadata(), options, done),
              bootstrapTimeoutMs,
            );
          } finally {
            client.close();
          }
        }),
    },
  ];
}

test.serial('every listener admits exactly the certificates docs/security.md lists', async (t) => {
  const document = await readFile(join(workspacePaths().repository, 'docs', 'security.md'), 'utf8');
  const expected = parseExpectedMatrix(document);
  await removeNode();
  const everyone = await callers();
  const unownedNode = await startUnownedNode();

  const measured = new Map<string, Map<CallerKind, MeasuredCell>>();
  for (const listener of listeners(unownedNode.address ?? '')) {
    const row = new Map<CallerKind, MeasuredCell>();
    for (const caller of everyone) row.set(caller.kind, await listener.probe(caller));
    measured.set(listener.name, row);
  }
  t.log(`measured:\n${formatMatrix(measured)}`);
  const details = [...measured].flatMap(([listener, row]) =>
    callerKinds.map((kind) => `${listener} × ${kind}: ${row.get(kind)?.detail ?? ''}`),
  );
  t.log(`what each probe saw:\n${details.join('\n')}`);
  t.deepEqual(matrixDifferences(expected, measured), [], 'cells that differ from docs/security.md');
});

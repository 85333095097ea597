// Leaving means leaving: a controller node that loses its roles deletes their keys, and once its
// MonogonNode is deleted, what it held (read from its disk before, as a thief would) is refused
// everywhere: its operator certificate by another node's management API and by kube-apiserver,
// its node certificate by the CA holder's credentials endpoint, its etcd member certificate by a
// member's peer port.
import test from 'ava';
import { copyFile, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Metadata, credentials, status, type ChannelCredentials } from '@grpc/grpc-js';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  NodeCredentialsClient,
  NodeManagementClient,
  monogonNodeResource,
  nodeCredentialsPort,
  nodeManagementPort,
  type MonogonNode,
} from '@metropolis/api';
import { eventually, launchLeasedCluster, type LeasedCluster } from '../harness/index.js';

const run = promisify(execFile);
let leased: LeasedCluster;

test.before(async () => {
  // Lists fetched, and revocations decided, every second rather than every ten.
  leased = await launchLeasedCluster({ name: 'revoke', agentArgs: ['--revocation-period', '1s'] });
});

test.after.always(() => leased.stop());

interface Pems {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

interface Answer {
  readonly code: status;
  readonly details: string;
}

function metroctl(...args: string[]): Promise<{ stdout: string }> {
  return run(join(leased.cluster.configDir, 'metroctl.sh'), args);
}

function node(id: string): Promise<MonogonNode> {
  return leased.cluster.kubeConfig
    .makeApiClient(CustomObjectsApi)
    .getClusterCustomObject({ ...monogonNodeResource, name: id }) as Promise<MonogonNode>;
}

function tls(pems: Pems): ChannelCredentials {
  return credentials.createSsl(Buffer.from(pems.ca), Buffer.from(pems.key), Buffer.from(pems.cert));
}

/** NodeManagement.GetStatus on the agent at `address`. */
async function getStatus(address: string, pems: Pems): Promise<Answer> {
  const client = new NodeManagementClient(`${address}:${String(nodeManagementPort)}`, tls(pems));
  try {
    return await new Promise((resolve) => {
      client.getStatus({}, new Metadata(), { deadline: Date.now() + 10_000 }, (error) => {
        resolve({ code: error?.code ?? status.OK, details: error?.details ?? '' });
      });
    });
  } finally {
    client.close();
  }
}

/** NodeCredentials.IssueRoleCredentials (no roles) on the CA holder at `address`. */
async function askCredentials(address: string, pems: Pems): Promise<Answer> {
  const client = new NodeCredentialsClient(`${address}:${String(nodeCredentialsPort)}`, tls(pems));
  try {
    return await new Promise((resolve) => {
      client.issueRoleCredentials(
        { roles: [], publicKeys: undefined },
        new Metadata(),
        { deadline: Date.now() + 10_000 },
        (error) => {
          resolve({ code: error?.code ?? status.OK, details: error?.details ?? '' });
        },
      );
    });
  } finally {
    client.close();
  }
}

/** The HTTP status of listing MonogonNodes through the kube-apiserver at `address`. */
async function listNodesAs(address: string, pems: Pems): Promise<number> {
  const kc = new KubeConfig();
  const b64 = (pem: string) => Buffer.from(pem).toString('base64');
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `https://${address}:6443`, caData: b64(pems.ca) }],
    users: [{ name: 'u', certData: b64(pems.cert), keyData: b64(pems.key) }],
    contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
    currentContext: 'c',
  });
  try {
    await kc.makeApiClient(CustomObjectsApi).listClusterCustomObject({ ...monogonNodeResource });
    return 200;
  } catch (error) {
    return (error as { code?: number }).code ?? 0;
  }
}

/**
 * GET /members on etcd's peer port at `address`, from the network namespace `netns` (etcd checks
 * that a peer's certificate names the address it connects from): the HTTP status, or curl's
 * words for a failed connection. The server is not verified: only the client's is at stake.
 */
async function peerMembers(address: string, files: Pems, netns: string): Promise<string> {
  const curl = [
    'netns',
    'exec',
    netns,
    'curl',
    '--silent',
    '--show-error',
    '--insecure',
    // etcd hands HTTP/2 on its peer port to its gRPC server, which has no /members.
    '--http1.1',
    '--max-time',
    '5',
    '--cert',
    files.cert,
    '--key',
    files.key,
    '--output',
    '/dev/null',
    '--write-out',
    '%{http_code}',
    `https://${address}:2380/members`,
  ];
  return run('ip', curl).then(
    ({ stdout }) => stdout,
    (error: unknown) => (error as { stderr?: string }).stderr?.trim() ?? String(error),
  );
}

test('a removed controller node is refused by the management API, kube-apiserver, the credentials endpoint and etcd', async (t) => {
  const { cluster } = leased;
  const [caHolder = '', other = ''] = cluster.endpoints;
  const id = cluster.nodeIds[2] ?? '';
  const data = cluster.nodes[2]?.layout.data ?? '';
  const controlPlane = join(data, 'pki', 'control-plane');

  await metroctl('node', 'add', 'role', 'cm', id);
  await metroctl('node', 'add', 'role', 'kc', id);
  await eventually(async () => {
    const running = (await node(id)).status?.runningRoles ?? [];
    if (!running.includes('KubernetesController')) throw new Error(`runs ${running.join()}`);
  }, 180_000);

  // What a thief of the disk would take while the node is a controller.
  const read = (path: string) => readFile(path, 'utf8');
  const ca = await read(join(data, 'pki', 'ca.pem'));
  const operator = {
    ca,
    cert: await read(join(controlPlane, 'operator.pem')),
    key: await read(join(controlPlane, 'operator-key.pem')),
  };
  // Copied for curl, which reads files.
  const etcd = { ca, cert: join(leased.dir, 'etcd.pem'), key: join(leased.dir, 'etcd-key.pem') };
  await copyFile(join(controlPlane, 'etcd.pem'), etcd.cert);
  await copyFile(join(controlPlane, 'etcd-key.pem'), etcd.key);
  const netns = cluster.nodes[2]?.netns ?? '';
  const nodeCertificate = {
    ca,
    cert: await read(join(data, 'pki', 'node.pem')),
    key: await read(join(data, 'identity', 'node-key.pem')),
  };
  // While the node belongs, each of them works: the refusals below are the removal's doing.
  t.is((await getStatus(other, operator)).code, status.OK, 'operator certificate on node 1');
  t.is(
    await eventually(async () => {
      // A kube-apiserver just started may answer 429 for a moment.
      const code = await listNodesAs(caHolder, operator);
      if (code === 429) throw new Error('429');
      return code;
    }, 30_000),
    200,
    'operator certificate on kube-apiserver',
  );
  t.is((await askCredentials(caHolder, nodeCertificate)).code, status.OK, 'node certificate');
  t.is(await peerMembers(caHolder, etcd, netns), '200', 'etcd member certificate on peer port');

  await metroctl('node', 'remove', 'role', 'kc', id);
  await metroctl('node', 'remove', 'role', 'cm', id);
  await eventually(async () => {
    const running = (await node(id)).status?.runningRoles ?? [];
    if (running.length > 0) throw new Error(`still runs ${running.join()}`);
  }, 120_000);
  const left = await eventually(async () => {
    // The etcd CA's certificate is public: every node may keep it.
    const files = (await readdir(controlPlane)).filter((file) => file !== 'etcd-ca.pem');
    if (files.length > 0) throw new Error(`still holds: ${files.join(' ')}`);
    return files.join(' ');
  }, 30_000);
  t.is(left, '', 'no key, certificate or kubeconfig of either role is left on the node');

  await leased.cluster.kubeConfig
    .makeApiClient(CustomObjectsApi)
    .deleteClusterCustomObject({ ...monogonNodeResource, name: id });

  const byAgent = await eventually(async () => {
    const answer = await getStatus(other, operator);
    if (answer.code === status.OK) throw new Error('the operator certificate still works');
    return answer;
  }, 30_000);
  t.log(`management API of node 1: ${status[byAgent.code]} ${byAgent.details}`);
  t.is(byAgent.code, status.UNAUTHENTICATED, byAgent.details);
  t.regex(byAgent.details, /revoked/);

  // kube-apiserver reads no revocation list: the operator's role is bound per identity.
  t.is(
    await listNodesAs(caHolder, operator),
    403,
    'the operator certificate is authorized for nothing',
  );

  const byCaHolder = await eventually(async () => {
    const answer = await askCredentials(caHolder, nodeCertificate);
    if (!answer.details.includes('revoked')) throw new Error(answer.details);
    return answer;
  }, 30_000);
  t.log(`credentials endpoint: ${status[byCaHolder.code]} ${byCaHolder.details}`);
  t.is(byCaHolder.code, status.UNAUTHENTICATED, byCaHolder.details);
  t.regex(byCaHolder.details, /revoked/);

  const byPeer = await eventually(async () => {
    const answer = await peerMembers(caHolder, etcd, netns);
    if (answer === '200') throw new Error('the peer port still serves the member certificate');
    return answer;
  }, 30_000);
  t.log(`etcd peer port: ${byPeer}`);
  t.notRegex(byPeer, /^\d+$/, `the connection is refused, no HTTP answer: ${byPeer}`);
});

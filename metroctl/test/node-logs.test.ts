// `metroctl node logs` against an in-test node agent: it finds the node's address in its
// MonogonNode, calls Logs over mTLS as the owner (cluster CA, node ID checked), and prints one
// line per entry; -f streams until Ctrl-C. A node with someone else's certificate is refused.
import anyTest, { type TestFn } from 'ava';
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { KubeConfig } from '@kubernetes/client-node';
import {
  NodeManagementService,
  certificateRoles,
  nodeManagementPort,
  type LogEntry,
  type LogsRequest,
  type NodeManagementServer,
} from '@metropolis/api';
import { CertificateAuthority, KeyPair } from '@metropolis/pki';
import { ControlPlane, controlPlaneBinariesFrom } from '@metropolis/testing';
import { ConfigStore } from '../src/index.js';
import { createNode, installMonogonNodeCrd, randomNodeId } from './monogon-node-fixture.js';
import { runMetroctl } from './run-metroctl.js';

interface Context {
  controlPlane: ControlPlane;
  kc: KubeConfig;
  ca: CertificateAuthority;
  home: string;
  /** Global flags: --config (owner credentials of `ca`), --kubeconfig, --context. */
  flags: string[];
}

const test = anyTest as TestFn<Context>;

const entries: LogEntry[] = [
  {
    timeUnixMs: Date.UTC(2025, 0, 1, 12),
    level: 'info',
    message: 'agent started',
    fieldsJson: '{"component":"main"}',
  },
  {
    timeUnixMs: Date.UTC(2025, 0, 1, 12, 0, 1),
    level: 'warn',
    message: 'slot B unverified',
    fieldsJson: '{"slot":"B","attempt":2}',
  },
  { timeUnixMs: Date.UTC(2025, 0, 1, 12, 0, 2), level: 'info', message: 'healthy', fieldsJson: '' },
];

/** A node agent at a loopback address of its own, on the real management port. */
async function fakeAgent(
  ca: CertificateAuthority,
  certifiedId: string,
): Promise<{ address: string; requests: LogsRequest[]; stop: () => void }> {
  const address = `127.${String(randomInt(1, 255))}.${String(randomInt(1, 255))}.${String(randomInt(2, 255))}`;
  const nodeKey = await KeyPair.generate();
  const certificate = await ca.certify(nodeKey.publicKey, {
    commonName: certifiedId,
    organizations: [certificateRoles.node],
    usages: ['server', 'client'],
    hosts: [address],
  });
  const requests: LogsRequest[] = [];
  const logs: NodeManagementServer['logs'] = (call) => {
    requests.push(call.request);
    const { backlog: count } = call.request;
    // As the agent: -1 all, 0 none, N the last N.
    const backlog = count === -1 ? entries : entries.slice(entries.length - count);
    for (const entry of backlog) call.write(entry);
    if (!call.request.follow) {
      call.end();
      return;
    }
    let n = 0;
    const timer = setInterval(() => {
      n++;
      call.write({
        timeUnixMs: Date.UTC(2025, 0, 1, 13, 0, n),
        level: 'info',
        message: 'tick',
        fieldsJson: JSON.stringify({ n }),
      });
    }, 100);
    call.on('cancelled', () => {
      clearInterval(timer);
    });
  };
  const server = new Server();
  server.addService(NodeManagementService, { logs });
  const credentials = ServerCredentials.createSsl(
    Buffer.from(ca.certificatePem),
    [
      {
        private_key: Buffer.from(await nodeKey.privateKeyPem()),
        cert_chain: Buffer.from(certificate),
      },
    ],
    true,
  );
  await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${address}:${String(nodeManagementPort)}`, credentials, (error, port) => {
      if (error) reject(error);
      else resolve(port);
    });
  });
  return {
    address,
    requests,
    stop: () => {
      server.forceShutdown();
    },
  };
}

test.before(async (t) => {
  const controlPlane = await ControlPlane.start({
    binaries: controlPlaneBinariesFrom(process.env),
  });
  const kc = new KubeConfig();
  kc.loadFromString(await controlPlane.kubeconfig());
  await installMonogonNodeCrd(kc);
  const home = await mkdtemp(join(tmpdir(), 'metroctl-logs-'));
  // The owner's config directory, as bootstrap leaves it.
  const ca = await CertificateAuthority.create({ commonName: 'test cluster CA' });
  const config = new ConfigStore(join(home, 'metroctl'));
  const { keyPair } = await config.loadOrCreateOwnerKey();
  await config.saveCluster({
    caPem: ca.certificatePem,
    ownerCertificatePem: await ca.certify(keyPair.publicKey, {
      commonName: 'owner',
      organizations: [certificateRoles.owner],
      usages: ['client'],
    }),
    config: { endpoints: [], nodeId: randomNodeId(), kubernetesEndpoint: controlPlane.server },
  });
  t.context = {
    controlPlane,
    kc,
    ca,
    home,
    flags: [
      '--config',
      config.paths.dir,
      '--kubeconfig',
      controlPlane.kubeconfigPath,
      '--context',
      'harness',
    ],
  };
});

test.after.always(async (t) => {
  const context = t.context as Partial<Context>;
  await context.controlPlane?.stop();
  if (context.home !== undefined) await rm(context.home, { recursive: true, force: true });
});

async function upNode(t: { context: Context }, certifiedId?: (id: string) => string) {
  const id = randomNodeId();
  const agent = await fakeAgent(t.context.ca, certifiedId?.(id) ?? id);
  await createNode(t.context.kc, id, {}, { state: 'UP', address: agent.address });
  return { id, agent };
}

test('node logs prints the backlog, one line per entry', async (t) => {
  const { id, agent } = await upNode(t);
  t.teardown(agent.stop);
  const run = await runMetroctl([...t.context.flags, 'node', 'logs', id], t.context.home);
  t.is(run.code, 0, run.stderr);
  t.is(
    run.stdout,
    [
      '2025-01-01T12:00:00.000Z info agent started component=main',
      '2025-01-01T12:00:01.000Z warn slot B unverified slot=B attempt=2',
      '2025-01-01T12:00:02.000Z info healthy',
      '',
    ].join('\n'),
  );
  t.deepEqual(agent.requests, [{ follow: false, backlog: -1 }]);

  const last = await runMetroctl(
    [...t.context.flags, 'node', 'logs', id, '--backlog', '1'],
    t.context.home,
  );
  t.is(last.stdout, '2025-01-01T12:00:02.000Z info healthy\n');
  t.deepEqual(agent.requests[1], { follow: false, backlog: 1 });
});

test('node logs -f streams until Ctrl-C (exit 130)', async (t) => {
  const { id, agent } = await upNode(t);
  t.teardown(agent.stop);
  const main = join(import.meta.dirname, '..', 'src', 'main.ts');
  const child = spawn(
    process.execPath,
    [
      '--import=tsx',
      '--conditions=source',
      main,
      ...t.context.flags,
      'node',
      'logs',
      '-f',
      '--backlog',
      '0',
      id,
    ],
    {
      env: { PATH: process.env.PATH ?? '', HOME: t.context.home },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  await new Promise<void>((resolve) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (stdout.split('\n').length > 3) resolve();
    });
  });
  child.kill('SIGINT');
  t.is(await exited, 130, stderr);
  t.regex(
    stdout,
    /^2025-01-01T13:00:01\.000Z info tick n=1\n2025-01-01T13:00:02\.000Z info tick n=2\n/,
  );
  t.deepEqual(agent.requests, [{ follow: true, backlog: 0 }]);
});

test('a node whose certificate names another node is not trusted (exit 7)', async (t) => {
  const impostor = randomNodeId();
  const { id, agent } = await upNode(t, () => impostor);
  t.teardown(agent.stop);
  const run = await runMetroctl([...t.context.flags, 'node', 'logs', id], t.context.home);
  t.is(run.code, 7);
  t.regex(run.stderr, new RegExp(`the certificate is for "${impostor}", not node ${id}`));
  t.deepEqual(agent.requests, []);
});

test('node logs: unknown node exits 4; a node without an address exits 3', async (t) => {
  const unknown = await runMetroctl(
    [...t.context.flags, 'node', 'logs', randomNodeId()],
    t.context.home,
  );
  t.is(unknown.code, 4);
  const id = randomNodeId();
  await createNode(t.context.kc, id, {}, { state: 'NEW' });
  const noAddress = await runMetroctl([...t.context.flags, 'node', 'logs', id], t.context.home);
  t.is(noAddress.code, 3);
  t.is(noAddress.stderr, `metroctl: node ${id} has reported no address yet\n`);
});

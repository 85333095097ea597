// Ownership and joining on real process nodes: a power cut between the steps of a bootstrap or
// a join leaves a node that starts over cleanly, not one that reboots for ever; Register binds
// a registration to the key it names and to the current ticket, and bounds waiting nodes.
import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import {
  NodeManagementClient,
  NodeRegistrationClient,
  nodeIdOf,
  nodeManagementPort,
  nodeRegistrationPort,
  registerProof,
  type NodeStatus,
  type NonceResponse,
  type RegisterResponse,
} from '@metropolis/api';
import { KeyPair } from '@metropolis/pki';
import { eventually } from '@metropolis/testing';
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
  releases = await mkdtemp(join(tmpdir(), 'agent-ownership-'));
  v1 = await buildRelease(releases, 'v0.1.0');
});

test.after.always(async () => {
  await rm(releases, { recursive: true, force: true });
});

const startingOver =
  'unfinished bootstrap or join (power cut?): removing its files and starting over';
const serving = 'node not owned: serving the bootstrap endpoint';

/** A halt file for `--test-halt-file`, and a way to arm it for the next boot. */
async function haltFile(t: { teardown: (fn: () => Promise<void>) => void }) {
  const dir = await mkdtemp(join(tmpdir(), 'agent-halt-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'halt');
  return { path, arm: (step: string) => writeFile(path, step) };
}

/** Cuts the power and waits for the next boot. */
async function powerCut(node: TestNode): Promise<void> {
  const boots = (await node.node.boots()).length;
  await node.node.powerCut();
  await node.node.waitForBoot(boots + 1, 30_000);
}

function ownerManagement(node: TestNode, caPem: string, keyPem: string, certPem: string) {
  return new NodeManagementClient(
    `${node.address}:${String(nodeManagementPort)}`,
    credentials.createSsl(Buffer.from(caPem), Buffer.from(keyPem), Buffer.from(certPem)),
  );
}

test('a power cut at each step of a bootstrap: the next boot starts over and bootstraps', async (t) => {
  const owner = await KeyPair.generate();
  const halt = await haltFile(t);
  await halt.arm('bootstrap:ca');
  const node = await TestNode.start(t, {
    release: v1,
    owned: false,
    agentArgs: [...controlPlaneArgs, '--test-halt-file', halt.path],
    parameters: await ownedBy(owner),
  });
  const layout = node.agentLayout;

  for (const step of ['bootstrap:ca', 'bootstrap:node-certificate']) {
    // The call never returns: the node halts after `step`, and the power goes. Not retried,
    // so it cannot bootstrap the next boot.
    await eventually(() => fetchCertificate(node.address), 30_000, 200);
    void bootstrapOnce(node.address, owner).catch(() => undefined);
    await node.logged('TEST ONLY: halted', { step }, 120_000);
    t.true(await pathExists(layout.caCertificate), `${step}: the cluster CA is on disk`);
    t.false(await pathExists(layout.ownedMarker), `${step}: not owned yet`);
    const count = async (message: string): Promise<number> =>
      (await node.logEntries()).filter((entry) => entry.message === message).length;
    const [overBefore, servingBefore] = [await count(startingOver), await count(serving)];
    if (step === 'bootstrap:ca') await halt.arm('bootstrap:node-certificate');
    await powerCut(node);
    // The next boot settles its files before it serves the bootstrap endpoint again.
    await eventually(async () => {
      if ((await count(serving)) === servingBefore) throw new Error('not serving yet');
    }, 30_000);
    t.is(await count(startingOver), overBefore + 1, `${step}: the next boot started over`);
    t.false(await pathExists(layout.pkiDir), `${step}: the unfinished cluster's files are gone`);
    t.false(await pathExists(layout.etcdData), `${step}: and its etcd data`);
  }

  // Unowned again: the owner bootstraps, and the node serves the management API.
  const { response } = await bootstrap(node.address, owner);
  t.true(await pathExists(layout.ownedMarker));
  const management = ownerManagement(
    node,
    response.caCertificate,
    await owner.privateKeyPem(),
    response.ownerCertificate,
  );
  t.teardown(() => {
    management.close();
  });
  const status = await eventually(() => unary<NodeStatus>((cb) => management.getStatus({}, cb)));
  t.is(status.nodeId, response.nodeId);
});

interface MonogonNodeObject {
  metadata?: { name?: string };
  spec?: { approved?: boolean };
  status?: { state?: string; address?: string };
}

async function monogonNodes(kc: KubeConfig): Promise<MonogonNodeObject[]> {
  const list = (await kc.makeApiClient(CustomObjectsApi).listClusterCustomObject({
    group: 'metropolis.monogon.dev',
    version: 'v1alpha1',
    plural: 'monogonnodes',
  })) as { items: MonogonNodeObject[] };
  return list.items;
}

async function readTicket(kc: KubeConfig): Promise<string> {
  const secret = await kc
    .makeApiClient(CoreV1Api)
    .readNamespacedSecret({ name: 'register-ticket', namespace: 'monogon-system' });
  return Buffer.from(secret.data?.['ticket'] ?? '', 'base64').toString('utf8');
}

/** Register against the CA holder, signing the nonce with `signer` (default: the key itself). */
async function register(
  client: NodeRegistrationClient,
  request: { ticket: string; key: KeyPair; address: string; signer?: KeyPair },
): Promise<RegisterResponse> {
  const { nonce } = await unary<NonceResponse>((cb) => client.nonce({}, cb));
  const signer = request.signer ?? request.key;
  const signature = Buffer.from(await signer.sign(registerProof(nonce, request.address)));
  const nodePublicKey = Buffer.from(await request.key.rawPublicKey());
  return unary<RegisterResponse>((cb) =>
    client.register(
      {
        registerTicket: request.ticket,
        nodePublicKey,
        address: request.address,
        nonce,
        signature,
      },
      cb,
    ),
  );
}

async function refusal(promise: Promise<unknown>): Promise<ServiceError> {
  return promise.then(
    () => {
      throw new Error('not refused');
    },
    (error: unknown) => error as ServiceError,
  );
}

test('joining: power cuts at each step, proof of the node key, ticket rotation, a bound on waiting nodes', async (t) => {
  const owner = await KeyPair.generate();
  const first = await TestNode.start(t, {
    release: v1,
    owned: false,
    agentArgs: controlPlaneArgs,
    parameters: await ownedBy(owner),
  });
  const { response } = await bootstrap(first.address, owner);
  const ownerKey = await owner.privateKeyPem();
  const kc = ownerKubeConfig(response, ownerKey);
  const ticket = await readTicket(kc);

  // A joining node, cut off after each step of its join.
  const halt = await haltFile(t);
  await halt.arm('join:ca');
  const second = await TestNode.start(t, {
    release: v1,
    owned: false,
    network: first.network,
    agentArgs: ['--test-halt-file', halt.path],
    parameters: {
      cluster: {
        caCertificate: response.caCertificate,
        registerTicket: ticket,
        endpoints: [first.address],
      },
    },
  });
  const registered = await eventually(async () => {
    const found = (await monogonNodes(kc)).find((n) => n.status?.address === second.address);
    if (found?.metadata?.name === undefined) throw new Error('not registered yet');
    return found.metadata.name;
  });
  await kc.makeApiClient(CustomObjectsApi).patchClusterCustomObject(
    {
      group: 'metropolis.monogon.dev',
      version: 'v1alpha1',
      plural: 'monogonnodes',
      name: registered,
      body: { spec: { approved: true } },
    },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  const layout = second.agentLayout;
  for (const step of ['join:ca', 'join:node-certificate']) {
    await second.logged('TEST ONLY: halted', { step }, 60_000);
    t.true(await pathExists(layout.caCertificate), `${step}: the cluster CA is on disk`);
    t.false(await pathExists(layout.ownedMarker), `${step}: not owned yet`);
    if (step === 'join:ca') await halt.arm('join:node-certificate');
    await powerCut(second);
  }
  const management = ownerManagement(
    second,
    response.caCertificate,
    ownerKey,
    response.ownerCertificate,
  );
  t.teardown(() => {
    management.close();
  });
  const status = await eventually(() => unary<NodeStatus>((cb) => management.getStatus({}, cb)));
  t.is(status.nodeId, registered);
  t.is(
    (await second.logEntries()).filter(
      (e) =>
        e.message ===
        'unfinished bootstrap or join (power cut?): removing its files and starting over',
    ).length,
    2,
  );
  // Joined: the ticket has left the node's parameters.
  const parameters = JSON.parse(await readFile(layout.parameters, 'utf8')) as {
    cluster?: Record<string, unknown>;
  };
  t.is(parameters.cluster?.['registerTicket'], undefined);
  t.is(parameters.cluster?.['caCertificate'], response.caCertificate);

  // Register proves possession of the key it names.
  const client = new NodeRegistrationClient(
    `${first.address}:${String(nodeRegistrationPort)}`,
    credentials.createSsl(Buffer.from(response.caCertificate)),
  );
  t.teardown(() => {
    client.close();
  });
  const victim = await KeyPair.generate();
  const victimId = nodeIdOf(await victim.rawPublicKey());
  const forged = await refusal(
    register(client, { ticket, key: victim, address: '10.1.0.200', signer: owner }),
  );
  t.is(forged.code, grpcStatus.PERMISSION_DENIED, forged.message);
  t.false((await monogonNodes(kc)).some((n) => n.metadata?.name === victimId));
  // Only an IP, and none another node uses.
  const name = await refusal(
    register(client, { ticket, key: victim, address: `metropolis-${'0'.repeat(32)}` }),
  );
  t.is(name.code, grpcStatus.INVALID_ARGUMENT, name.message);
  const taken = await refusal(register(client, { ticket, key: victim, address: first.address }));
  t.is(taken.code, grpcStatus.ALREADY_EXISTS, taken.message);

  // The owner rotates the ticket: the old one stops working, the new one works.
  const rotated = 'rotated-ticket-0123456789abcdef';
  await kc.makeApiClient(CoreV1Api).replaceNamespacedSecret({
    name: 'register-ticket',
    namespace: 'monogon-system',
    body: {
      metadata: { name: 'register-ticket' },
      type: 'Opaque',
      stringData: { ticket: rotated },
    },
  });
  const late = await KeyPair.generate();
  const old = await eventually(async () => {
    const error = await refusal(
      register(client, { ticket, key: late, address: '10.1.0.201' }),
    ).catch(() => undefined);
    if (error === undefined) throw new Error('the old ticket still works');
    return error;
  }, 30_000);
  t.is(old.code, grpcStatus.PERMISSION_DENIED, old.message);
  await register(client, { ticket: rotated, key: victim, address: '10.1.0.200' });

  // At most 64 nodes wait for approval; the next one is refused until the owner decides.
  let refused: ServiceError | undefined;
  for (let index = 0; index < 70 && refused === undefined; index++) {
    const key = await KeyPair.generate();
    refused = await register(client, {
      ticket: rotated,
      key,
      address: `10.99.0.${String(index + 1)}`,
    }).then(
      () => undefined,
      (error: unknown) => error as ServiceError,
    );
  }
  t.is(refused?.code, grpcStatus.RESOURCE_EXHAUSTED, refused?.message);
  const waiting = (await monogonNodes(kc)).filter(
    (n) => n.spec?.approved !== true && (n.status?.state ?? 'NEW') === 'NEW',
  );
  t.is(waiting.length, 64);
});

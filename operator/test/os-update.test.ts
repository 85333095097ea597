// The OSUpdate rollout engine against a real kube-apiserver and two real node agents in process
// nodes (gRPC over mTLS, real staging into slot B, real reboots through the firmware emulator):
// the status is written before the engine acts, every node is staged before any reboots, an
// OSUpdate waits for an older one that claims its nodes (Blocked), and a refused stage halts it.
import test, { type ExecutionContext } from 'ava';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Watch } from '@kubernetes/client-node';
import {
  osUpdateResource,
  type OSUpdate,
  type OSUpdateNodePhase,
  type OSUpdateStatus,
} from '@metropolis/api';
import { ProcessNetwork } from '@metropolis/process-node';
import { eventuallyDefined as eventually } from '@metropolis/testing';
import { TestCluster } from './test-cluster.js';
import { TestNode, buildRelease, type Release } from './test-node.js';

/** A bundle download, with the node's entry of the OSUpdate as stored when it arrived. */
interface Download {
  readonly update: string;
  readonly node: string;
  readonly phase: OSUpdateNodePhase | undefined;
}

interface Rig {
  readonly cluster: TestCluster;
  readonly nodes: readonly TestNode[];
  readonly v2: Release;
  /** Serves `file` for the OSUpdate `update`; returns its URL. */
  readonly serve: (update: string, file: string) => string;
  /** Serves `file` for `update` one byte per second, as a stalled or hostile host would. */
  readonly serveDrip: (update: string, file: string) => string;
  readonly downloads: readonly Download[];
}

/** Two v0.1.0 nodes on one network, UP and HEALTHY under a running operator. */
async function rig(t: ExecutionContext, agentArgs: readonly string[] = []): Promise<Rig> {
  const dir = await mkdtemp(join(tmpdir(), 'operator-os-update-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const [cluster, v1, v2] = await Promise.all([
    TestCluster.start(t),
    buildRelease(dir, 'v0.1.0'),
    buildRelease(dir, 'v0.2.0'),
  ]);
  const network = await ProcessNetwork.createIsolated();
  t.teardown(() => network.destroy());
  const nodes = await Promise.all(
    [0, 1].map(() =>
      TestNode.start(t, {
        release: v1,
        ca: cluster.controlPlane.ca,
        network,
        agentArgs: ['--heartbeat', '300', ...agentArgs],
      }),
    ),
  );
  for (const node of nodes) {
    await cluster.createNode(
      node.nodeId,
      { approved: true },
      { state: 'NEW', address: node.address },
    );
  }

  const downloads: Download[] = [];
  const routes = new Map<string, { update: string; file: string; drip: boolean }>();
  const server = createServer((req, res) => {
    const route = routes.get(req.url ?? '');
    if (route === undefined) {
      res.writeHead(404).end();
      return;
    }
    const node = nodes.find((each) => each.address === req.socket.remoteAddress)?.nodeId ?? '?';
    // What the engine had written when its stage call reached the node.
    void Promise.all([cluster.osUpdate(route.update), stat(route.file)]).then(([update, file]) => {
      const entry = update.status?.nodes?.find((candidate) => candidate.node === node);
      downloads.push({ update: route.update, node, phase: entry?.phase });
      // As a bundle server does: the agent reads a sized answer in one GET.
      res.writeHead(200, { 'content-length': String(file.size) });
      if (route.drip) drip(route.file, res);
      else createReadStream(route.file).pipe(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, network.hostAddress, resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  );
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const route = (update: string, file: string, drip: boolean): string => {
    routes.set(`/${update}`, { update, file, drip });
    return `http://${network.hostAddress}:${String(port)}/${update}`;
  };
  const serve = (update: string, file: string): string => route(update, file, false);
  const serveDrip = (update: string, file: string): string => route(update, file, true);

  await cluster.startOperator(t, 'operator-1');
  await eventually('both nodes UP and HEALTHY', 60_000, async () => {
    for (const node of nodes) {
      const { state, health } = (await cluster.node(node.nodeId)).status ?? {};
      if (state !== 'UP' || health !== 'HEALTHY') return undefined;
    }
    return true;
  });
  return { cluster, nodes, v2, serve, serveDrip, downloads };
}

/** Sends `file` one byte per second until the client goes away. */
function drip(file: string, res: ServerResponse): void {
  void readFile(file).then((bytes) => {
    let sent = 0;
    // Stops once the connection is gone, also one closed before the file was read.
    const timer = setInterval(() => {
      if (res.destroyed) clearInterval(timer);
      else res.write(bytes.subarray(sent, (sent += 1)));
    }, 1000);
  });
}

/** Every status of the OSUpdate `name` the API server stores from now on, in order. */
async function recordStatuses(t: ExecutionContext, cluster: TestCluster, name: string) {
  const seen: OSUpdateStatus[] = [];
  const watch = { failed: undefined as unknown };
  const controller = await new Watch(cluster.kubeConfig).watch(
    `/apis/${osUpdateResource.group}/${osUpdateResource.version}/${osUpdateResource.plural}`,
    { fieldSelector: `metadata.name=${name}` },
    (_type: string, object: OSUpdate) => {
      if (object.status !== undefined) seen.push(object.status);
    },
    (error: unknown) => {
      watch.failed ??= error ?? 'ended';
    },
  );
  t.teardown(() => {
    controller.abort();
  });
  return { seen, watch };
}

/** The OSUpdate `name` once its phase is one of `phases`. */
function untilPhase(cluster: TestCluster, name: string, phases: readonly string[], ms: number) {
  return eventually(`${name} ${phases.join(' or ')}`, ms, async () => {
    const update = await cluster.osUpdate(name);
    return phases.includes(update.status?.phase ?? '') ? update : undefined;
  });
}

const nodeOrder: readonly OSUpdateNodePhase[] = [
  'Pending',
  'Staging',
  'Staged',
  'Rebooting',
  'Verifying',
  'Committed',
];

test('an OSUpdate stages every node, writing its status first, then reboots one at a time and commits', async (t) => {
  const { cluster, nodes, v2, serve, downloads } = await rig(t);
  const boots = await Promise.all(nodes.map(async (node) => (await node.node.boots()).length));
  const name = 'to-v0-2-0';
  const statuses = await recordStatuses(t, cluster, name);
  await cluster.createOSUpdate(name, {
    version: 'v0.2.0',
    bundle: { url: serve(name, v2.bundle), sha256: v2.sha256 },
  });
  const done = await untilPhase(cluster, name, ['Succeeded', 'Halted'], 180_000);
  t.is(done.status?.phase, 'Succeeded', done.status?.summary);
  t.deepEqual(
    (done.status?.nodes ?? []).map((entry) => entry.phase),
    ['Committed', 'Committed'],
  );
  t.is(statuses.watch.failed, undefined, 'the watch saw every status');

  // Written before acting: each node's stage call found it Staging in the stored status.
  t.deepEqual(
    downloads.map((download) => `${download.node} ${String(download.phase)}`).sort(),
    nodes.map((node) => `${node.nodeId} Staging`).sort(),
  );
  // Every node staged before any reboots; at most one node (maxUnavailable 1) down at a time.
  for (const status of statuses.seen) {
    const phases = (status.nodes ?? []).map((entry) => entry.phase ?? 'Pending');
    const disrupted = phases.filter((phase) => phase === 'Rebooting' || phase === 'Verifying');
    const started = phases.some(
      (phase) => nodeOrder.indexOf(phase) >= nodeOrder.indexOf('Rebooting'),
    );
    const unstaged = phases.some((phase) => phase === 'Pending' || phase === 'Staging');
    if ((started && unstaged) || disrupted.length > 1) t.fail(`status: ${JSON.stringify(phases)}`);
  }
  // Each node's transitions were written one by one, in order.
  for (const node of nodes) {
    const phases = statuses.seen
      .map((status) => status.nodes?.find((entry) => entry.node === node.nodeId)?.phase)
      .filter((phase) => phase !== undefined)
      .filter((phase, index, all) => phase !== all[index - 1]);
    t.true(
      phases.every(
        (phase, index) =>
          index === 0 || nodeOrder.indexOf(phase) > nodeOrder.indexOf(phases[index - 1] ?? phase),
      ),
      `${node.nodeId}: ${phases.join(' -> ')}`,
    );
    for (const phase of ['Staging', 'Rebooting', 'Committed'] as const) {
      t.true(phases.includes(phase), `${node.nodeId} was seen ${phase}: ${phases.join(' -> ')}`);
    }
  }
  // Each node rebooted exactly once, into slot B, and runs v0.2.0.
  for (const [index, node] of nodes.entries()) {
    const records = await node.node.boots();
    t.is(records.length, (boots[index] ?? 0) + 1, `${node.nodeId} booted once`);
    t.like(records.at(-1), { slot: 'B', version: 'v0.2.0', outcome: 'started' });
    // The boot order is a detail written with the next heartbeat refresh (docs/operator.md).
    const status = await eventually('the new version and boot order reported', 20_000, async () => {
      const current = (await cluster.node(node.nodeId)).status;
      return current?.version === 'v0.2.0' && current.bootOrder?.[0] === 'B' ? current : undefined;
    });
    t.is(status.bootedSlot, 'B');
    t.deepEqual(status.bootOrder, ['B', 'A'], 'committed: slot B boots first');
  }
});

test('an OSUpdate over nodes an older one claims is Blocked; then a refused stage halts it, no node rebooted', async (t) => {
  const { cluster, nodes, v2, serve, downloads } = await rig(t);
  const boots = await Promise.all(nodes.map(async (node) => (await node.node.boots()).length));
  await cluster.createOSUpdate('older', {
    version: 'v0.2.0',
    bundle: { url: serve('older', v2.bundle), sha256: v2.sha256 },
    paused: true,
  });
  // Creation times have whole seconds, and within one the name decides which is older: the
  // newer one is created in a later second (the API server shares this machine's clock).
  const nextSecond = (Math.floor(Date.now() / 1000) + 1) * 1000;
  await untilPhase(cluster, 'older', ['Paused'], 30_000);
  await eventually('a later second than the older one was created in', 5_000, () =>
    Date.now() >= nextSecond ? true : undefined,
  );
  // The bundle is v0.2.0's, but the pinned hash is not its hash.
  const wrong = v2.sha256.replace(/^./, (digit) => (digit === '0' ? '1' : '0'));
  await cluster.createOSUpdate('newer', {
    version: 'v0.2.0',
    bundle: { url: serve('newer', v2.bundle), sha256: wrong },
  });
  const blocked = await eventually('newer Blocked', 30_000, async () => {
    const update = await cluster.osUpdate('newer');
    const condition = update.status?.conditions?.find((c) => c.type === 'Blocked');
    return condition?.status === 'True' ? condition : undefined;
  });
  t.is(blocked.reason, 'WaitingForOtherUpdate');
  for (const node of nodes) t.regex(blocked.message, new RegExp(node.nodeId));
  t.regex(blocked.message, /wait for OSUpdate older$/);
  t.deepEqual(downloads, [], 'neither update staged anything');

  await cluster.deleteOSUpdate('older');
  const halted = await untilPhase(cluster, 'newer', ['Halted', 'Succeeded'], 60_000);
  t.is(halted.status?.phase, 'Halted', halted.status?.summary);
  t.like(
    halted.status?.conditions?.find((c) => c.type === 'Failed'),
    { status: 'True', reason: 'StageFailed' },
  );
  t.regex(
    halted.status?.conditions?.find((c) => c.type === 'Failed')?.message ?? '',
    /The node agent refused the bundle: .*sha256/,
  );
  const failed = (halted.status?.nodes ?? []).filter((entry) => entry.phase === 'Failed');
  t.true(failed.length > 0 && failed.every((entry) => entry.reason === 'StageFailed'));
  t.true(downloads.length > 0 && downloads.every((download) => download.update === 'newer'));
  for (const [index, node] of nodes.entries()) {
    t.is((await node.node.boots()).length, boots[index] ?? 0, `${node.nodeId} did not reboot`);
    t.is((await cluster.node(node.nodeId)).status?.version, 'v0.1.0');
  }
});

test('a bundle host that sends one byte per second fails each stage in the stall window; the rollout reports it and retries', async (t) => {
  const stallWindowSeconds = 2;
  const { cluster, nodes, v2, serveDrip, downloads } = await rig(t, [
    '--download-idle-timeout',
    String(stallWindowSeconds),
  ]);
  const boots = await Promise.all(nodes.map(async (node) => (await node.node.boots()).length));
  const name = 'from-a-drip';
  await cluster.createOSUpdate(name, {
    version: 'v0.2.0',
    bundle: { url: serveDrip(name, v2.bundle), sha256: v2.sha256 },
  });
  const stalled = new RegExp(`the download stalled: \\d+ bytes in ${String(stallWindowSeconds)} s`);
  const reported = await eventually(
    'every node entry names the stalled download',
    90_000,
    async () => {
      const update = await cluster.osUpdate(name);
      const entries = update.status?.nodes ?? [];
      const named = entries.filter((entry) => stalled.test(entry.message ?? ''));
      return named.length === nodes.length ? update : undefined;
    },
  );
  for (const entry of reported.status?.nodes ?? []) {
    t.is(entry.phase, 'Staging', entry.message);
    t.is(entry.reason, 'StageRetrying', entry.message);
  }
  // Not stuck on the first attempt: every node was asked again after its download failed.
  await eventually('a second download per node', 60_000, () =>
    Promise.resolve(
      nodes.every((node) => downloads.filter((d) => d.node === node.nodeId).length >= 2) ||
        undefined,
    ),
  );
  t.deepEqual(
    await Promise.all(nodes.map(async (node) => (await node.node.boots()).length)),
    boots,
    'no node rebooted',
  );
  for (const node of nodes) t.is((await cluster.node(node.nodeId)).status?.version, 'v0.1.0');
});

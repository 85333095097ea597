// A hollow node is the real agent over simulated hardware: over its management API (mTLS) it
// stages a real signed bundle, takes SetNextBoot and Reboot, and comes back from the slot its
// in-memory boot variables select, reporting the version that slot carries.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import test from 'ava';
import { credentials } from '@grpc/grpc-js';
import {
  NodeLayout,
  NodeManagementClient,
  Slot,
  certificateRoles,
  type NodeStatus,
} from '@metropolis/api';
import { CertificateAuthority } from '@metropolis/pki';
import { agentRoots, readBootRecords } from '@metropolis/process-node';
import { eventually, freePort, preseedNode } from '@metropolis/testing';
import { HollowNode } from '../src/hollow/hollow-node.js';
import { BundleServer, buildRelease, collect, devPublicKeyPem, unary } from './fixture-node.js';

test('Reboot after SetNextBoot brings a hollow node back on the staged slot with its version', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hollow-node-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const [v1, v2] = await Promise.all([buildRelease(dir, 'v0.1.0'), buildRelease(dir, 'v0.2.0')]);
  const server = await BundleServer.start('127.0.0.1', t);
  const address = '127.0.0.1';
  const port = await freePort(address);
  const node = await HollowNode.create(
    {
      name: 'hollow-test',
      dir: join(dir, 'node'),
      address,
      managementPort: port,
      rebootTimeMs: 100,
      slotSize: 64 * 1024 * 1024,
      shutdownGraceMs: 5000,
      logTo: new PassThrough().resume(),
      settings: {
        trialTimeoutSeconds: 300,
        heartbeatMs: 2000,
        flavour: 'process',
        architecture: 'x86_64',
        binaries: {},
        crdsDir: '',
        heartbeatTimeoutSeconds: 10,
      },
    },
    { systemImage: v1.systemImage, loader: v1.loader },
    JSON.stringify({ releaseKeys: [await readFile(devPublicKeyPem, 'utf8')], development: true }),
  );
  t.teardown(() => node.shutdown());
  const ca = await CertificateAuthority.create({ commonName: 'test cluster CA' });
  const nodeId = await preseedNode(new NodeLayout(agentRoots(node.directory)), ca, address);
  await node.powerOn();

  const operator = await ca.issue({
    commonName: 'operator',
    organizations: [certificateRoles.operator],
    usages: ['client'],
  });
  const client = new NodeManagementClient(
    `${address}:${String(port)}`,
    credentials.createSsl(
      Buffer.from(ca.certificatePem),
      Buffer.from(await operator.keyPair.privateKeyPem()),
      Buffer.from(operator.certificatePem),
    ),
  );
  t.teardown(() => {
    client.close();
  });
  const status = (): Promise<NodeStatus> => unary((callback) => client.getStatus({}, callback));

  const first = await status();
  t.is(first.nodeId, nodeId);
  t.is(first.version, 'v0.1.0');
  t.is(first.boot?.runningSlot, Slot.SLOT_A);
  const url = server.file('/v0.2.0.bundle', v2.bundle);
  const progress = await collect(
    client.stageUpdate({
      url,
      sha256: v2.sha256,
      expectedVersion: 'v0.2.0',
      allowDowngrade: false,
    }),
  );
  t.is(progress.at(-1)?.slot, Slot.SLOT_B);
  await unary((callback) => client.setNextBoot({ slot: Slot.SLOT_B }, callback));
  // A status stream open across the reboot is ended by the agent as it stops (status OK), not
  // cut off when its server gives up waiting.
  const watch = client.watchStatus({});
  const watchEnded = new Promise<string>((resolve) => {
    watch.on('data', () => undefined);
    watch.on('end', () => {
      resolve('ended');
    });
    watch.on('error', (error) => {
      resolve(`failed: ${error.message}`);
    });
  });
  await unary((callback) =>
    client.reboot({ expectedBootTimeUnixMs: first.bootTimeUnixMs }, callback),
  );

  const back = await eventually(async () => {
    const now = await status();
    if (now.bootTimeUnixMs === first.bootTimeUnixMs) throw new Error('not rebooted yet');
    return now;
  }, 30_000);
  t.is(back.version, 'v0.2.0');
  t.is(back.boot?.runningSlot, Slot.SLOT_B);
  t.true(back.boot?.trial, 'booted once through BootNext, not committed');
  t.is(back.boot?.nextSlot, Slot.SLOT_UNSPECIFIED, 'the firmware consumed BootNext');
  const boots = await readBootRecords(node.directory.bootsLog);
  t.deepEqual(
    boots.map((boot) => [boot.via, boot.slot, boot.version, boot.outcome]),
    [
      ['removable', 'A', 'v0.1.0', 'started'],
      ['BootNext', 'B', 'v0.2.0', 'started'],
    ],
  );
  t.is(await watchEnded, 'ended');
  // The reboot's times: down (the agent asked to stop), the firmware's start, the API serving.
  const [power, reboot] = boots;
  t.is(power?.downAt, undefined, 'a power-on has no reboot before it');
  const times = [reboot?.downAt, reboot?.at, reboot?.servingAt].map((time) =>
    Date.parse(time ?? ''),
  );
  t.deepEqual(
    times.map((time) => Number.isNaN(time)),
    [false, false, false],
  );
  t.deepEqual(
    [...times].sort((a, b) => a - b),
    times,
    'down, then boot, then serving',
  );
});

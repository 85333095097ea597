// The A/B update path on real process nodes: stage a signed bundle over HTTP, boot it once
// through BootNext, commit it through BootOrder; an uncommitted trial falls back by itself; a
// power cut while a stage downloads, writes the slot or writes the loader leaves a node whose
// firmware boots its old slot (the other one disabled) and that stages again.
import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import {
  Slot,
  StageUpdateProgress_Phase as Phase,
  certificateRoles,
  type ApplyRolesResponse,
  type NodeStatus,
  type StageUpdateProgress,
} from '@metropolis/api';
import { writeBundle } from '@metropolis/bundle';
import { BootVariables, EfiVarStore, readBootConfiguration } from '@metropolis/efi';
import {
  BundleServer,
  devKeyPem,
  TestNode,
  buildRelease,
  clientFor,
  collect,
  unary,
  type Release,
} from './fixture-node.js';

let v1: Release;
let v2: Release;
let releases: string;

test.before(async () => {
  releases = await mkdtemp(join(tmpdir(), 'agent-releases-'));
  [v1, v2] = await Promise.all([
    buildRelease(releases, 'v0.1.0'),
    buildRelease(releases, 'v0.2.0'),
  ]);
});

test.after.always(async () => {
  await rm(releases, { recursive: true, force: true });
});

test('a staged bundle boots once through BootNext and is made permanent by CommitBoot', async (t) => {
  const node = await TestNode.start(t, { release: v1, agentArgs: ['--trial-timeout', '60'] });
  const first = await node.status();
  t.is(first.version, 'v0.1.0');
  t.is(first.boot?.runningSlot, Slot.SLOT_A);
  t.deepEqual(first.boot?.bootOrder, [Slot.SLOT_A, Slot.SLOT_B]);
  t.false(first.boot?.trial);

  const server = await BundleServer.start(node.network.hostAddress, t);
  const progress = await node.stage(server.file('/v0.2.0', v2.bundle), v2.sha256, 'v0.2.0');
  t.is(progress.at(-1)?.phase, Phase.PHASE_DONE);
  t.true(progress.every((p) => p.slot === Slot.SLOT_B));
  const staged = await node.status();
  t.is(staged.boot?.slots.find((s) => s.slot === Slot.SLOT_B)?.version, 'v0.2.0');
  t.is(staged.version, 'v0.1.0', 'staging alone changes nothing that runs');

  await node.setNextBoot(Slot.SLOT_B);
  await node.reboot();
  const trial = await node.waitFor((s) => s.version === 'v0.2.0', 30_000);
  t.is(trial.boot?.runningSlot, Slot.SLOT_B);
  t.true(trial.boot?.trial, 'BootOrder still starts with slot A: a trial boot');
  t.is(trial.boot?.nextSlot, Slot.SLOT_UNSPECIFIED, 'the firmware consumed BootNext');
  const boots = await node.node.boots();
  t.is(boots.at(-1)?.via, 'BootNext');
  t.is(boots.at(-1)?.slot, 'B');

  const committed = await node.commitBoot();
  t.false(committed.trial);
  t.deepEqual(committed.bootOrder, [Slot.SLOT_B, Slot.SLOT_A]);
  // What the firmware will read: BootOrder in efivarfs puts slot B's entry first.
  const variables = new BootVariables(new EfiVarStore(join(node.dir, 'efivars')));
  const slotB = committed.slots.find((s) => s.slot === Slot.SLOT_B)?.bootEntry ?? '';
  t.is((await variables.bootOrder())[0], Number.parseInt(slotB, 16));

  // And the next ordinary boot stays on v0.2.0.
  await node.reboot();
  await node.node.waitForBoot(boots.length + 1, 30_000);
  const after = await node.waitFor((s) => s.bootTimeUnixMs > trial.bootTimeUnixMs, 30_000);
  t.is(after.version, 'v0.2.0');
  t.is((await node.node.boots()).at(-1)?.via, 'BootOrder');
  t.false(after.boot?.trial);
});

test('a trial boot that is never committed falls back to the old slot by itself', async (t) => {
  const node = await TestNode.start(t, { release: v1, agentArgs: ['--trial-timeout', '3'] });
  const server = await BundleServer.start(node.network.hostAddress, t);
  await node.stage(server.file('/v0.2.0', v2.bundle), v2.sha256);
  await node.setNextBoot(Slot.SLOT_B);
  await node.reboot();
  await node.waitFor((s) => s.version === 'v0.2.0' && s.boot?.trial === true, 30_000);
  // Nobody commits: the watchdog reboots, BootNext is gone, BootOrder boots slot A.
  const back = await node.waitFor((s) => s.version === 'v0.1.0', 30_000);
  t.is(back.boot?.runningSlot, Slot.SLOT_A);
  t.false(back.boot?.trial);
  const slots = (await node.node.boots()).map((boot) => boot.slot);
  t.deepEqual(slots.slice(-3), ['A', 'B', 'A']);
});

test('a power cut while StageUpdate downloads leaves a node that boots its old slot and stages again', async (t) => {
  const node = await TestNode.start(t, { release: v1 });
  const server = await BundleServer.start(node.network.hostAddress, t);
  const bundle = await readFile(v2.bundle);
  const half = { sent: false };
  // Sends half the bundle, then stalls: the power cut lands mid-download.
  const slowUrl = server.custom('/slow', (res) => {
    res.writeHead(200, { 'content-length': String(bundle.length) });
    res.write(bundle.subarray(0, bundle.length >> 1), () => {
      half.sent = true;
    });
  });
  const staging = collect(
    node.client.stageUpdate({
      url: slowUrl,
      sha256: v2.sha256,
      expectedVersion: '',
      allowDowngrade: false,
    }),
  );
  staging.catch(() => undefined);
  for (let i = 0; i < 100 && !half.sent; i++)
    await new Promise((resolve) => setTimeout(resolve, 100));
  t.true(half.sent);
  const bootsBefore = (await node.node.boots()).length;
  await node.node.powerCut();
  await node.node.waitForBoot(bootsBefore + 1, 30_000);
  const status = await node.waitFor((s) => s.bootTimeUnixMs > 0 && s.version === 'v0.1.0', 30_000);
  t.is(status.boot?.runningSlot, Slot.SLOT_A);

  const progress = await node.stage(server.file('/v0.2.0', v2.bundle), v2.sha256);
  t.is(progress.at(-1)?.phase, Phase.PHASE_DONE);
  const slotB = (await node.status()).boot?.slots.find((s) => s.slot === Slot.SLOT_B);
  t.is(slotB?.version, 'v0.2.0');
  t.true(slotB?.bootEntryActive);
});

/**
 * v2's release padded to `paddingBytes` more of system image (zeros after the tar, as a slot
 * holds them), so writing the slot takes long enough to cut the power in the middle of it.
 */
async function paddedBundle(
  dir: string,
  release: Release,
  paddingBytes: number,
): Promise<{ path: string; sha256: string }> {
  const system = join(dir, `${release.version}-padded.img`);
  await writeFile(system, await readFile(release.systemImage));
  await appendFile(system, new Uint8Array(paddingBytes));
  const path = join(dir, `${release.version}-padded.bundle`);
  const { sha256 } = await writeBundle(path, {
    version: release.version,
    flavour: 'process',
    architecture: 'x86_64',
    signingKeyPem: await readFile(devKeyPem, 'utf8'),
    files: [
      { name: 'loader.efi', role: 'loader', path: release.loader },
      { name: 'system.img', role: 'system', path: system },
    ],
  });
  return { path, sha256 };
}

/**
 * Stages `url` and, on the first progress message of `phase`, stops the agent where it is
 * (SIGSTOP, sent at once) and cuts the power for good: the node is off, its disk as the cut
 * left it. Returns the progress received.
 */
async function cutPowerIn(
  node: TestNode,
  url: string,
  sha256: string,
  phase: Phase,
): Promise<StageUpdateProgress[]> {
  const received: StageUpdateProgress[] = [];
  await new Promise<void>((resolve, reject) => {
    const stream = node.client.stageUpdate({
      url,
      sha256,
      expectedVersion: '',
      allowDowngrade: false,
    });
    stream.on('data', (progress: StageUpdateProgress) => {
      received.push(progress);
      if (progress.phase !== phase) return;
      node.node.signalAgent('SIGSTOP');
      stream.cancel();
      resolve();
    });
    stream.on('error', (error: ServiceError) => {
      if (error.code !== grpcStatus.CANCELLED) reject(error);
    });
    stream.on('end', () => {
      reject(new Error(`the stage ended without phase ${String(phase)}`));
    });
  });
  await node.node.powerOff();
  return received;
}

/**
 * What the firmware reads at the next power-on, with the node off: BootOrder starts with the
 * committed slot A, no BootNext, slot A's entry active and slot B's disabled.
 */
async function assertBootsCommittedSlotNext(t: ExecutionContext, node: TestNode): Promise<void> {
  const config = await readBootConfiguration(
    new BootVariables(new EfiVarStore(node.node.layout.efivars)),
  );
  const entry = (slot: string) =>
    config.entries.find((candidate) => candidate.description === `Metropolis Slot ${slot}`);
  t.is(config.bootNext, null, 'no BootNext');
  t.is(config.bootOrder[0], entry('A')?.id, 'BootOrder starts with slot A');
  t.deepEqual(config.bootOrder.slice(0, 2), [entry('A')?.id, entry('B')?.id]);
  t.true(entry('A')?.active, 'slot A stays bootable');
  t.false(entry('B')?.active, 'slot B, cut off in the middle of a stage, is disabled');
}

/** Powers the node on: it boots slot A by BootOrder, reports B disabled, and stages v2 again. */
async function assertRecoversAndStagesAgain(
  t: ExecutionContext,
  node: TestNode,
  server: BundleServer,
): Promise<void> {
  const boots = (await node.node.boots()).length;
  await node.node.powerOn();
  t.like(await node.node.waitForBoot(boots + 1, 30_000), {
    via: 'BootOrder',
    slot: 'A',
    version: 'v0.1.0',
    outcome: 'started',
  });
  const back = await node.waitFor((s) => s.version === 'v0.1.0', 30_000);
  t.is(back.boot?.runningSlot, Slot.SLOT_A);
  t.false(back.boot?.slots.find((slot) => slot.slot === Slot.SLOT_B)?.bootEntryActive);

  const progress = await node.stage(server.file('/v0.2.0', v2.bundle), v2.sha256);
  t.is(progress.at(-1)?.phase, Phase.PHASE_DONE);
  const slotB = (await node.status()).boot?.slots.find((slot) => slot.slot === Slot.SLOT_B);
  t.is(slotB?.version, 'v0.2.0');
  t.true(slotB?.bootEntryActive);
}

test('a power cut while the slot is written leaves slot B disabled; the node boots slot A and stages again', async (t) => {
  const node = await TestNode.start(t, { release: v1 });
  const server = await BundleServer.start(node.network.hostAddress, t);
  // 192 MiB to write (and fsync) after the first WRITING_SLOT message, sent at 4 MiB.
  const padded = await paddedBundle(node.dir, v2, 192 << 20);
  const received = await cutPowerIn(
    node,
    server.file('/padded', padded.path),
    padded.sha256,
    Phase.PHASE_WRITING_SLOT,
  );
  t.false(received.some((progress) => progress.phase === Phase.PHASE_WRITING_LOADER));
  await assertBootsCommittedSlotNext(t, node);
  await assertRecoversAndStagesAgain(t, node, server);
});

test('a power cut while the loader is written leaves slot B disabled; the node boots slot A and stages again', async (t) => {
  const node = await TestNode.start(t, { release: v1 });
  const server = await BundleServer.start(node.network.hostAddress, t);
  // The loader's temp file is a FIFO nobody reads: opening it for writing blocks, so the
  // stage holds in WRITING_LOADER (as on a hung ESP) until the cut.
  const temp = join(node.node.layout.esp, 'EFI', 'metropolis', 'boot-b.efi.tmp');
  await promisify(execFile)('mkfifo', [temp]);
  const received = await cutPowerIn(
    node,
    server.file('/v0.2.0', v2.bundle),
    v2.sha256,
    Phase.PHASE_WRITING_LOADER,
  );
  t.false(received.some((progress) => progress.phase === Phase.PHASE_DONE));
  // What a real cut leaves there: a half-written temp file.
  await rm(temp);
  await writeFile(temp, (await readFile(v2.loader)).subarray(0, 10));
  await assertBootsCommittedSlotNext(t, node);
  await assertRecoversAndStagesAgain(t, node, server);
});

test('only operator and owner certificates may manage a node', async (t) => {
  const node = await TestNode.start(t, { release: v1 });
  const owner = await clientFor(node.ca, node.address, certificateRoles.owner, 'owner');
  t.teardown(() => {
    owner.close();
  });
  t.is((await unary<NodeStatus>((cb) => owner.getStatus({}, cb))).nodeId, node.nodeId);

  const otherNode = await clientFor(
    node.ca,
    node.address,
    certificateRoles.node,
    'metropolis-0000',
  );
  t.teardown(() => {
    otherNode.close();
  });
  const error = await t.throwsAsync(unary((cb) => otherNode.getStatus({}, cb)));
  t.is((error as { code?: number }).code, grpcStatus.PERMISSION_DENIED);
  t.regex(error.message, /metropolis-0000 \(metropolis:node\) may not manage this node/);

  const logs = await collect(owner.logs({ follow: false, backlog: -1 }));
  t.true(logs.some((entry) => entry.message === 'node agent running'));
  // Nothing runs on a node without roles. A worker is recorded but said not to run; a
  // controller without consensus is refused.
  const none = { consensus: undefined, validateOnly: false };
  t.deepEqual(await unary((cb) => owner.applyRoles({ roles: [], ...none }, cb)), {
    notRunning: [],
  });
  const worker = await unary<ApplyRolesResponse>((cb) =>
    owner.applyRoles({ roles: ['KubernetesWorker'], ...none }, cb),
  );
  t.deepEqual(
    worker.notRunning.map((notice) => notice.role),
    ['KubernetesWorker'],
  );
  t.regex(worker.notRunning[0]?.message ?? '', /not built yet/);
  const roles = await t.throwsAsync(
    unary((cb) => owner.applyRoles({ roles: ['KubernetesController'], ...none }, cb)),
  );
  t.is((roles as { code?: number }).code, grpcStatus.INVALID_ARGUMENT);
  t.regex(roles.message, /KubernetesController requires ConsensusMember/);
});

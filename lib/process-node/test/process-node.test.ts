// Process nodes booting a fake agent: the UEFI boot-manager rules end to end (removable
// fallback, BootNext once, BootOrder, skipped options, corrupt slots), power cuts, halts.
import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loaderDirSegments, loaderFileName, nodeAgentArgs } from '@metropolis/api';
import {
  BootVariables,
  EfiVarStore,
  decodeEfiString,
  filePath,
  formatBootId,
  hardDriveGpt,
  systemdLoaderVendor,
  type LoadOption,
} from '@metropolis/efi';
import {
  ProcessNode,
  ProcessNodeError,
  writeSystemImage,
  type ProcessNodeOptions,
} from '@metropolis/process-node';
import {
  fakeLoader,
  fakeRuns,
  fakeSystemImage,
  processState,
  running,
  setBehaviour,
  waitForRun,
} from './fake-agent.js';

const slotSize = 4 * 1024 * 1024;
const bootTimeoutMs = 20_000;

interface Fixture {
  readonly node: ProcessNode;
  readonly scratch: string;
  readonly variables: BootVariables;
}

/** A node in a fresh temp dir, shut down and removed after the test whatever happens. */
async function newNode(
  t: ExecutionContext,
  options: Partial<ProcessNodeOptions> = {},
): Promise<Fixture> {
  const scratch = await mkdtemp(join(tmpdir(), 'process-node-test-'));
  const nodes: ProcessNode[] = [];
  t.teardown(async () => {
    for (const node of nodes) await node.shutdown();
    await rm(scratch, { recursive: true, force: true });
  });
  const node = await ProcessNode.create({
    dir: join(scratch, 'node'),
    name: `t-${randomBytes(4).toString('hex')}`,
    slotSize,
    rebootDelayMs: 20,
    ...options,
  });
  nodes.push(node);
  return { node, scratch, variables: new BootVariables(new EfiVarStore(node.layout.efivars)) };
}

/** A Boot#### entry for a loader on the node's ESP, as the agent would create it. */
function espEntry(node: ProcessNode, description: string, path: string, active = true): LoadOption {
  const { esp } = node.disk;
  return {
    attributes: active ? 1 : 0,
    description,
    filePaths: [
      [
        hardDriveGpt(esp.partitionNumber, BigInt(esp.start), BigInt(esp.size), esp.guid),
        filePath(path),
      ],
    ],
    optionalData: new Uint8Array(),
  };
}

/** Puts version `version` into slot B and its loader at \EFI\metropolis\boot-b.efi. */
async function stageSlotB({ node, scratch }: Fixture, version: string): Promise<void> {
  const image = await fakeSystemImage(scratch, version);
  await writeSystemImage(node.layout.systemB, image, node.disk.slotSize);
  await writeFile(
    join(node.layout.esp, ...loaderDirSegments, loaderFileName('B')),
    await readFile(await fakeLoader(scratch, version)),
  );
}

/** Installs v1 and creates the two slot entries; returns their ids. */
async function installWithEntries(fixture: Fixture): Promise<{ a: number; b: number }> {
  const { node, scratch, variables } = fixture;
  await node.install({
    systemImage: await fakeSystemImage(scratch, 'v1'),
    loader: await fakeLoader(scratch, 'v1'),
  });
  const a = await variables.addEntry(
    espEntry(node, 'Metropolis Slot A', '\\EFI\\metropolis\\boot-a.efi'),
  );
  const b = await variables.addEntry(
    espEntry(node, 'Metropolis Slot B', '\\EFI\\metropolis\\boot-b.efi'),
  );
  await variables.setBootOrder([a, b]);
  return { a, b };
}

test('a fresh node boots slot A from the removable path and passes the agent its contract', async (t) => {
  const fixture = await newNode(t, { agentArgs: ['--extra', 'yes'] });
  const { node, scratch, variables } = fixture;
  await node.install({
    systemImage: await fakeSystemImage(scratch, 'v1'),
    loader: await fakeLoader(scratch, 'v1'),
  });
  await node.powerOn();
  const record = await node.waitForBoot(1, bootTimeoutMs);
  t.like(record, {
    boot: 1,
    bootCurrent: null,
    via: 'removable',
    loader: '\\EFI\\BOOT\\BOOTX64.EFI',
    slot: 'A',
    version: 'v1',
    outcome: 'started',
  });
  const run = await waitForRun(node, 1);
  t.is(node.state, 'running');
  t.is(run.version, 'v1');
  t.is(run.cmdline, 'console=ttyS0 root=PARTLABEL=METROPOLIS-SYSTEM-A');
  t.is(run.cwd, node.layout.run);
  const { layout } = node;
  // The agent's contract: the node directory's parts as its storage roots.
  const roots = {
    efivarfs: layout.efivars,
    esp: layout.esp,
    systemA: layout.systemA,
    systemB: layout.systemB,
    data: layout.data,
    disk: layout.disk,
    cmdline: layout.cmdline,
  };
  t.deepEqual(run.argv, [...nodeAgentArgs(roots), '--extra', 'yes']);
  t.is(await variables.bootCurrent(), null);
  const store = variables.store;
  const partUuid = await store.read('LoaderDevicePartUUID', systemdLoaderVendor);
  t.is(partUuid.attributes, 6);
  t.is(decodeEfiString(partUuid.data), node.disk.esp.guid.toUpperCase());
  const image = await store.read('LoaderImageIdentifier', systemdLoaderVendor);
  t.is(decodeEfiString(image.data), '\\EFI\\BOOT\\BOOTX64.EFI');
  const disk: unknown = JSON.parse(await readFile(layout.disk, 'utf8'));
  t.like(disk, { esp: { partitionNumber: 1, start: 2048, size: 262_144 }, slotSize });
  t.regex(await readFile(layout.consoleLog, 'utf8'), /fake-agent v1 cmdline: console=ttyS0/);

  await node.shutdown();
  t.is(node.state, 'off');
  t.false(running(run.pid));
  t.regex(await readFile(layout.consoleLog, 'utf8'), /fake-agent v1: SIGTERM, shutting down/);
});

test('BootNext boots the other slot once; the next boot follows BootOrder back to slot A', async (t) => {
  const fixture = await newNode(t);
  const { node, variables } = fixture;
  const { a, b } = await installWithEntries(fixture);
  await stageSlotB(fixture, 'v2');
  await variables.setBootNext(b);
  // v2 fails before it could make itself permanent: its exit is a reboot.
  await setBehaviour(node, { exit: { v2: 3 } });
  await node.powerOn();
  t.like(await node.waitForBoot(1, bootTimeoutMs), {
    via: 'BootNext',
    bootCurrent: formatBootId(b),
    loader: '\\EFI\\metropolis\\boot-b.efi',
    slot: 'B',
    version: 'v2',
    outcome: 'started',
  });
  t.like(await node.waitForBoot(2, bootTimeoutMs), {
    via: 'BootOrder',
    bootCurrent: formatBootId(a),
    loader: '\\EFI\\metropolis\\boot-a.efi',
    slot: 'A',
    version: 'v1',
    outcome: 'started',
  });
  const runs = await waitForRun(node, 2).then(() => fakeRuns(node));
  t.deepEqual(
    runs.map((run) => [run.version, run.cmdline]),
    [
      ['v2', 'console=ttyS0 root=PARTLABEL=METROPOLIS-SYSTEM-B'],
      ['v1', 'console=ttyS0 root=PARTLABEL=METROPOLIS-SYSTEM-A'],
    ],
  );
  t.is(await variables.bootNext(), null);
  t.is(await variables.bootCurrent(), a);
  const image = await variables.store.read('LoaderImageIdentifier', systemdLoaderVendor);
  t.is(decodeEfiString(image.data), '\\EFI\\metropolis\\boot-a.efi');
  t.regex(await readFile(node.layout.consoleLog, 'utf8'), /agent exited \(code 3\); rebooting/);
});

test('inactive entries, missing loaders and invalid loaders are skipped', async (t) => {
  const fixture = await newNode(t);
  const { node, variables } = fixture;
  const { a, b } = await installWithEntries(fixture);
  await stageSlotB(fixture, 'v2');
  await variables.setEntry(
    b,
    espEntry(node, 'Metropolis Slot B', '\\EFI\\metropolis\\boot-b.efi', false),
  );
  const missing = await variables.addEntry(
    espEntry(node, 'Missing', '\\EFI\\metropolis\\gone.efi'),
  );
  const garbage = await variables.addEntry(
    espEntry(node, 'Garbage', '\\EFI\\metropolis\\garbage.efi'),
  );
  await writeFile(
    join(node.layout.esp, 'EFI', 'metropolis', 'garbage.efi'),
    '{"kind":"metropolis-pro',
  );
  await variables.setBootOrder([b, missing, garbage, a]);
  await node.powerOn();
  const record = await node.waitForBoot(1, bootTimeoutMs);
  t.like(record, { via: 'BootOrder', bootCurrent: formatBootId(a), slot: 'A', outcome: 'started' });
  t.deepEqual(record.skipped, [
    `Boot${formatBootId(b)}: not active`,
    `Boot${formatBootId(missing)}: \\EFI\\metropolis\\gone.efi: not found`,
    `Boot${formatBootId(garbage)}: \\EFI\\metropolis\\garbage.efi: not a process loader: not UTF-8 JSON`,
  ]);
  t.regex(
    await readFile(node.layout.consoleLog, 'utf8'),
    /firmware: cannot boot Boot\w{4}: not active/,
  );
});

test('a corrupt slot fails its boot, and the reboot falls back to the old slot', async (t) => {
  const fixture = await newNode(t);
  const { node, variables } = fixture;
  const { a, b } = await installWithEntries(fixture);
  await stageSlotB(fixture, 'v2');
  await writeFile(node.layout.systemB, randomBytes(64 * 1024));
  await variables.setBootNext(b);
  await node.powerOn();
  const failed = await node.waitForBoot(1, bootTimeoutMs);
  t.like(failed, { via: 'BootNext', bootCurrent: formatBootId(b), slot: 'B', version: 'v2' });
  t.regex(failed.outcome, /^cannot mount slot B: .*no valid tar header/);
  t.like(await node.waitForBoot(2, bootTimeoutMs), {
    via: 'BootOrder',
    bootCurrent: formatBootId(a),
    slot: 'A',
    outcome: 'started',
  });
  t.is((await waitForRun(node, 1)).version, 'v1');
  t.regex(await readFile(node.layout.consoleLog, 'utf8'), /kernel: panic: cannot mount slot B/);
});

test('a power cut kills the agent and its children at once and boots again', async (t) => {
  const fixture = await newNode(t);
  const { node } = fixture;
  await installWithEntries(fixture);
  await setBehaviour(node, { child: true });
  await node.powerOn();
  const first = await waitForRun(node, 1);
  t.true(first.childPid !== undefined && running(first.childPid));
  await node.powerCut();
  t.false(running(first.pid));
  t.false(first.childPid !== undefined && running(first.childPid));
  t.like(await node.waitForBoot(2, bootTimeoutMs), {
    via: 'BootOrder',
    slot: 'A',
    outcome: 'started',
  });
  const second = await waitForRun(node, 2);
  t.not(second.pid, first.pid);
  await node.shutdown();
  t.false(running(second.pid));
  t.false(second.childPid !== undefined && running(second.childPid));
  t.regex(await readFile(node.layout.consoleLog, 'utf8'), /firmware: power cut/);
});

test('a power loss kills the agent at once, without SIGTERM, and nothing boots until power-on', async (t) => {
  const fixture = await newNode(t);
  const { node } = fixture;
  await installWithEntries(fixture);
  await setBehaviour(node, { child: true });
  await node.powerOn();
  const first = await waitForRun(node, 1);
  await node.powerOff();
  t.is(node.state, 'off');
  t.false(running(first.pid));
  t.false(first.childPid !== undefined && running(first.childPid));
  t.is((await node.boots()).length, 1, 'no boot follows a power loss');
  const console = await readFile(node.layout.consoleLog, 'utf8');
  t.regex(console, /firmware: power lost/);
  t.notRegex(console, /SIGTERM/, 'the agent was given no chance to shut down');
  await node.powerOn();
  t.like(await node.waitForBoot(2, bootTimeoutMs), { slot: 'A', outcome: 'started' });
  await waitForRun(node, 2);
  await node.shutdown();
  t.regex(
    await readFile(node.layout.consoleLog, 'utf8'),
    /SIGTERM, shutting down/,
    'a shutdown, unlike a power loss, lets the agent stop',
  );
});

test('a signal to the agent alone: stopped it hangs, killed it reboots the node', async (t) => {
  const fixture = await newNode(t);
  const { node } = fixture;
  await installWithEntries(fixture);
  await setBehaviour(node, { child: true });
  const off = t.throws(
    () => {
      node.signalAgent('SIGKILL');
    },
    { instanceOf: ProcessNodeError },
  );
  t.is(off.code, 'AGENT_NOT_RUNNING');
  await node.powerOn();
  const first = await waitForRun(node, 1);
  node.signalAgent('SIGSTOP');
  for (let waited = 0; processState(first.pid) !== 'T' && waited < 2_000; waited += 10) {
    await sleep(10);
  }
  t.is(processState(first.pid), 'T');
  await sleep(500);
  t.is(node.state, 'running', 'a hung agent is no reboot');
  t.is((await node.boots()).length, 1);
  node.signalAgent('SIGKILL');
  t.like(await node.waitForBoot(2, bootTimeoutMs), { slot: 'A', outcome: 'started' });
  const second = await waitForRun(node, 2);
  t.false(running(first.pid));
  t.false(first.childPid !== undefined && running(first.childPid), 'the reboot took its children');
  t.true(second.childPid !== undefined && running(second.childPid));
  t.regex(
    await readFile(node.layout.consoleLog, 'utf8'),
    /kernel: the agent exited \(signal SIGKILL\); rebooting/,
  );
});

test('a node with nothing bootable halts instead of spinning', async (t) => {
  const { node } = await newNode(t);
  await node.powerOn();
  t.is(node.state, 'halted');
  t.is(node.haltReason, 'no bootable option or device');
  t.like(await node.waitForBoot(1, bootTimeoutMs), {
    via: null,
    slot: null,
    outcome: 'no bootable option or device',
  });
  const error = await t.throwsAsync(node.waitForBoot(2, bootTimeoutMs), {
    instanceOf: ProcessNodeError,
  });
  t.is(error.code, 'NODE_HALTED');
});

test('a slot that never boots halts the node after the boot-loop limit', async (t) => {
  const fixture = await newNode(t, { bootLoopLimit: 3 });
  const { node, scratch } = fixture;
  await node.install({
    systemImage: await fakeSystemImage(scratch, 'v1'),
    loader: await fakeLoader(scratch, 'v1'),
  });
  await writeFile(node.layout.systemA, Buffer.alloc(slotSize));
  await node.powerOn();
  const error = await t.throwsAsync(node.waitForBoot(4, bootTimeoutMs), {
    instanceOf: ProcessNodeError,
  });
  t.is(error.code, 'NODE_HALTED');
  t.is(node.state, 'halted');
  t.regex(
    node.haltReason ?? '',
    /^boot loop: 3 boots in a row ended early; last: cannot mount slot A/,
  );
  t.is((await node.boots()).length, 3);
  // Powering it on again is a fresh start.
  await node.powerCut();
  t.like(await node.waitForBoot(4, bootTimeoutMs), { slot: 'A', via: 'removable' });
});

test('a node directory is reused: disk, variables and the boot count survive', async (t) => {
  const fixture = await newNode(t);
  const { node } = fixture;
  await installWithEntries(fixture);
  await node.powerOn();
  await waitForRun(node, 1);
  await node.shutdown();
  await writeFile(join(node.layout.run, 'stale'), 'from the last boot');
  const again = await ProcessNode.create({ dir: node.dir, name: node.name, rebootDelayMs: 20 });
  t.teardown(() => again.shutdown());
  t.deepEqual(again.disk, node.disk);
  await again.powerOn();
  t.like(await again.waitForBoot(2, bootTimeoutMs), { via: 'BootOrder', slot: 'A' });
  t.is((await again.boots()).length, 2);
  t.false(existsSync(join(node.layout.run, 'stale')));
  const error = await t.throwsAsync(
    ProcessNode.create({ dir: node.dir, name: node.name, slotSize: slotSize * 2 }),
    { instanceOf: ProcessNodeError },
  );
  t.is(error.code, 'NODE_DIR_INVALID');
});

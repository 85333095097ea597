import test from 'ava';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { NodeLayout, encodeProcessLoader } from '@metropolis/api';
import { BootVariables, EfiVarStore, filePath, loadOptionActive } from '@metropolis/efi';
import { AgentError } from '../errors.js';
import { SlotManager, type EspPartition } from './slot-manager.js';
import type { Slot } from './slot.js';

const esp: EspPartition = {
  partitionNumber: 1,
  start: 2048n,
  size: 262144n,
  guid: '11111111-2222-3333-4444-555555555555',
};

async function node(t: { teardown: (fn: () => Promise<void>) => void }, runningSlot: Slot) {
  const dir = await mkdtemp(join(tmpdir(), 'slots-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'efivars'));
  const layout = new NodeLayout({
    efivarfs: join(dir, 'efivars'),
    esp: join(dir, 'esp'),
    systemA: join(dir, 'system-a'),
    systemB: join(dir, 'system-b'),
    data: join(dir, 'data'),
    disk: join(dir, 'disk.json'),
    cmdline: join(dir, 'cmdline'),
  });
  const variables = new BootVariables(new EfiVarStore(layout.roots.efivarfs));
  const slots = new SlotManager({ variables, layout, esp, runningSlot });
  const writeLoader = async (slot: Slot, version: string): Promise<void> => {
    await mkdir(dirname(layout.loader(slot)), { recursive: true });
    await writeFile(layout.loader(slot), encodeProcessLoader({ version, cmdline: '' }));
  };
  return { variables, slots, writeLoader };
}

const foreign = {
  attributes: loadOptionActive,
  description: 'UEFI Shell',
  filePaths: [[filePath('\\EFI\\BOOT\\shell.efi')]],
  optionalData: new Uint8Array([1, 2, 3]),
};

test('first boot creates both slot entries and puts them first in BootOrder', async (t) => {
  const { variables, slots } = await node(t, 'A');
  await variables.setEntry(0, foreign);
  await variables.setBootOrder([0]);
  t.deepEqual(await slots.ensureBootEntries(), { created: ['A', 'B'], addedToOrder: ['A', 'B'] });
  t.deepEqual(await variables.bootOrder(), [1, 2, 0]);
  const entry = await variables.entry(2);
  t.is(entry?.description, 'Metropolis Slot B');
  t.is(entry?.optionalData.length, 0);
  const state = await slots.state();
  t.deepEqual(state.bootOrder, ['A', 'B']);
  t.false(state.trial);
  // The foreign entry is untouched, optional data and all.
  t.deepEqual((await variables.entry(0))?.optionalData, new Uint8Array([1, 2, 3]));
  // A second good boot changes nothing.
  t.deepEqual(await slots.ensureBootEntries(), { created: [], addedToOrder: [] });
});

test('an entry the firmware dropped is recreated and put back after its twin', async (t) => {
  const { variables, slots } = await node(t, 'A');
  await slots.ensureBootEntries();
  await variables.setEntry(5, foreign);
  await variables.setBootOrder([0, 5, 1]);
  await variables.deleteEntry(1);
  await variables.setBootOrder([0, 5]);
  const result = await slots.ensureBootEntries();
  t.deepEqual(result, { created: ['B'], addedToOrder: ['B'] });
  t.deepEqual(await variables.bootOrder(), [0, 1, 5]);
});

test('a boot of the slot that is not first in BootOrder is a trial until committed', async (t) => {
  const first = await node(t, 'A');
  await first.slots.ensureBootEntries();
  // The same variables, now booted into B through BootNext.
  const { slots, variables } = first;
  const trialSlots = new SlotManager({
    variables,
    layout: new NodeLayout({
      efivarfs: '',
      esp: '',
      systemA: '',
      systemB: '',
      data: '',
      disk: '',
      cmdline: '',
    }),
    esp,
    runningSlot: 'B',
  });
  t.true((await trialSlots.state()).trial);
  t.deepEqual(await trialSlots.commit(), { changed: true });
  t.deepEqual(await variables.bootOrder(), [1, 0]);
  t.false((await trialSlots.state()).trial);
  t.deepEqual(await trialSlots.commit(), { changed: false });
  t.true((await slots.state()).trial);
});

test('BootNext goes only to a slot with an active entry and a loader', async (t) => {
  const { variables, slots, writeLoader } = await node(t, 'A');
  await slots.ensureBootEntries();
  const missing = await t.throwsAsync(slots.setNextBoot('B'), { instanceOf: AgentError });
  t.is(missing.code, 'AGENT_SLOT_NOT_BOOTABLE');
  await writeLoader('B', 'v0.2.0');
  await slots.setEntryActive('B', false);
  const inactive = await t.throwsAsync(slots.setNextBoot('B'), {
    instanceOf: AgentError,
    message: /no active boot entry/,
  });
  t.is(inactive.code, 'AGENT_SLOT_NOT_BOOTABLE');
  t.is(await variables.bootNext(), null);
  await slots.setEntryActive('B', true);
  await slots.setNextBoot('B');
  t.is(await variables.bootNext(), 1);
  const state = await slots.state();
  t.is(state.nextSlot, 'B');
  t.is(state.slots[1]?.version, 'v0.2.0');
  t.is(await slots.rollback(), 'B');
});

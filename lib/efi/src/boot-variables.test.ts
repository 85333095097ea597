// BootVariables and readBootConfiguration on temp directories in the efivarfs file format.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import {
  BootVariables,
  EfiError,
  EfiVarStore,
  efiGlobalVariable,
  encodeLoadOption,
  filePath,
  formatBootId,
  hardDriveGpt,
  loadOptionActive,
  readBootConfiguration,
  type LoadOption,
} from './index.js';

async function tempVariables(t: ExecutionContext): Promise<{ dir: string; boot: BootVariables }> {
  const dir = await mkdtemp(join(tmpdir(), 'efivars-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return { dir, boot: new BootVariables(new EfiVarStore(dir)) };
}

function slot(name: string): LoadOption {
  return {
    attributes: loadOptionActive,
    description: `Slot ${name}`,
    filePaths: [
      [
        hardDriveGpt(1, 0x800n, 0x20000n, '11111111-2222-3333-4444-555555555555'),
        filePath(`/EFI/metropolis/boot-${name.toLowerCase()}.efi`),
      ],
    ],
    optionalData: new Uint8Array(),
  };
}

function variableFile(dir: string, name: string): string {
  return join(dir, `${name}-${efiGlobalVariable}`);
}

test('formatBootId gives 4 uppercase hex digits and rejects what is not a u16', (t) => {
  t.is(formatBootId(0x11), '0011');
  t.is(formatBootId(0xabc), '0ABC');
  t.is(formatBootId(0xffff), 'FFFF');
  for (const id of [-1, 0x10000, 1.5]) {
    t.is(t.throws(() => formatBootId(id), { instanceOf: EfiError }).code, 'EFI_INVALID_ARGUMENT');
  }
});

test('addEntry takes the lowest free number', async (t) => {
  const { dir, boot } = await tempVariables(t);
  await boot.setEntry(0, slot('A'));
  await boot.setEntry(1, slot('A'));
  await boot.setEntry(3, slot('A'));
  t.is(await boot.addEntry(slot('B')), 2);
  t.is(await boot.addEntry(slot('B')), 4);
  t.deepEqual(await boot.entry(2), slot('B'));
  t.deepEqual(
    new Uint8Array((await readFile(variableFile(dir, 'Boot0002'))).subarray(0, 4)),
    Uint8Array.of(7, 0, 0, 0),
  );
});

test('addEntry fails with EFI_NO_FREE_ENTRY when 0000..FFFE are taken', async (t) => {
  const { dir } = await tempVariables(t);
  // A store that lists every id, rather than 65535 files on disk.
  class FullStore extends EfiVarStore {
    override list(): Promise<string[]> {
      return Promise.resolve(Array.from({ length: 0xffff }, (_, id) => `Boot${formatBootId(id)}`));
    }
  }
  const boot = new BootVariables(new FullStore(dir));
  const error = await t.throwsAsync(boot.addEntry(slot('B')), { instanceOf: EfiError });
  t.is(error.code, 'EFI_NO_FREE_ENTRY');
  t.deepEqual(await new EfiVarStore(dir).list(), []);
});

test('lowercase names written by firmware are read, kept when rewritten, and deleted', async (t) => {
  const { dir, boot } = await tempVariables(t);
  const bytes = Buffer.concat([Uint8Array.of(7, 0, 0, 0), encodeLoadOption(slot('A'))]);
  await writeFile(variableFile(dir, 'Boot000a'), bytes);
  await writeFile(variableFile(dir, 'boot000B'), bytes);
  t.deepEqual(await boot.entry(0xa), slot('A'));
  t.deepEqual(await boot.entry(0xb), slot('A'));
  t.is(await boot.entry(0xc), undefined);
  t.deepEqual(
    (await boot.entries()).map((entry) => entry.id),
    [0xa, 0xb],
  );
  t.is(await boot.addEntry(slot('B')), 0);

  await boot.setEntry(0xa, slot('B'));
  t.deepEqual(await boot.entry(0xa), slot('B'));
  t.deepEqual(await new EfiVarStore(dir).list(), ['Boot0000', 'Boot000a', 'boot000B']);

  await boot.deleteEntry(0xa);
  await boot.deleteEntry(0xb);
  t.deepEqual(await new EfiVarStore(dir).list(), ['Boot0000']);
});

test('BootNext, BootOrder and BootCurrent round-trip', async (t) => {
  const { dir, boot } = await tempVariables(t);
  t.deepEqual(await boot.bootOrder(), []);
  t.is(await boot.bootNext(), null);
  t.is(await boot.bootCurrent(), null);

  await boot.setBootOrder([0x11, 0x10, 0xffff]);
  t.deepEqual(await boot.bootOrder(), [0x11, 0x10, 0xffff]);
  t.deepEqual(
    new Uint8Array(await readFile(variableFile(dir, 'BootOrder'))),
    Uint8Array.of(7, 0, 0, 0, 0x11, 0, 0x10, 0, 0xff, 0xff),
  );
  await boot.setBootNext(0x11);
  t.is(await boot.bootNext(), 0x11);
  await boot.clearBootNext();
  t.is(await boot.bootNext(), null);
  await boot.clearBootNext();

  await boot.setBootCurrent(0x10);
  t.is(await boot.bootCurrent(), 0x10);
  t.deepEqual(
    new Uint8Array(await readFile(variableFile(dir, 'BootCurrent'))),
    Uint8Array.of(6, 0, 0, 0, 0x10, 0),
  );
  const error = await t.throwsAsync(boot.setBootOrder([0x10000]), { instanceOf: EfiError });
  t.is(error.code, 'EFI_INVALID_ARGUMENT');
});

test('a corrupt BootOrder, BootNext or entry is EFI_MALFORMED', async (t) => {
  const { dir, boot } = await tempVariables(t);
  await writeFile(variableFile(dir, 'BootOrder'), Uint8Array.of(7, 0, 0, 0, 1, 0, 2));
  await writeFile(variableFile(dir, 'BootNext'), Uint8Array.of(7, 0, 0, 0, 1));
  await writeFile(variableFile(dir, 'Boot0005'), Uint8Array.of(7, 0, 0, 0, 1, 0, 0, 0, 9));
  for (const run of [() => boot.bootOrder(), () => boot.bootNext(), () => boot.entry(5)]) {
    const error = await t.throwsAsync(run(), { instanceOf: EfiError });
    t.is(error.code, 'EFI_MALFORMED');
  }
});

test('entries reports corrupt ones; readBootConfiguration shows them as <malformed: ...>', async (t) => {
  const { dir, boot } = await tempVariables(t);
  await boot.setEntry(0x10, slot('A'));
  await boot.setEntry(0x11, { ...slot('B'), attributes: 0, optionalData: Uint8Array.of(0xab, 1) });
  await writeFile(variableFile(dir, 'Boot0005'), Uint8Array.of(7, 0, 0, 0, 1, 0, 0, 0, 9));
  await boot.setBootOrder([0x11, 0x10]);
  await boot.setBootNext(0x11);

  const entries = await boot.entries();
  t.deepEqual(
    entries.map((entry) => entry.id),
    [5, 0x10, 0x11],
  );
  const [corrupt] = entries;
  t.true(corrupt !== undefined && 'error' in corrupt && corrupt.error.code === 'EFI_MALFORMED');

  t.deepEqual(await readBootConfiguration(boot), {
    bootCurrent: null,
    bootNext: '0011',
    bootOrder: ['0011', '0010'],
    entries: [
      {
        id: '0005',
        description: '',
        active: false,
        devicePath: '<malformed: load option is 5 bytes, shorter than its 6-byte header>',
        optionalData: '',
        error: 'EFI_MALFORMED: load option is 5 bytes, shorter than its 6-byte header',
      },
      {
        id: '0010',
        description: 'Slot A',
        active: true,
        devicePath:
          'HD(1,GPT,11111111-2222-3333-4444-555555555555,0x800,0x20000)/\\EFI\\metropolis\\boot-a.efi',
        optionalData: '',
      },
      {
        id: '0011',
        description: 'Slot B',
        active: false,
        devicePath:
          'HD(1,GPT,11111111-2222-3333-4444-555555555555,0x800,0x20000)/\\EFI\\metropolis\\boot-b.efi',
        optionalData: 'ab01',
      },
    ],
  });
});

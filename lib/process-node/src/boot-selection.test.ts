// The boot manager's rules as a table of variables, entries and files: BootNext once, then
// BootOrder, then the removable path; inactive, foreign and broken options are passed over.
import test from 'ava';
import { filePath, hardDriveGpt, type DevicePath, type LoadOption } from '@metropolis/efi';
import {
  espLoaderPath,
  loaderPathsToProbe,
  removableLoaderPath,
  selectBoot,
  type BootSelectionInput,
  type LoaderProbe,
} from '@metropolis/process-node';

const esp = {
  partitionNumber: 1,
  start: 2048,
  size: 131_072,
  guid: '11111111-2222-3333-4444-555555555555',
};
const pathA = '\\EFI\\metropolis\\boot-a.efi';
const pathB = '\\EFI\\metropolis\\boot-b.efi';
const cmdline = 'console=ttyS0 root=PARTLABEL=METROPOLIS-SYSTEM-X';

function espOption(description: string, path: string, attributes = 1, guid = esp.guid): LoadOption {
  const devicePath: DevicePath = [hardDriveGpt(1, 2048n, 131_072n, guid), filePath(path)];
  return { attributes, description, filePaths: [devicePath], optionalData: new Uint8Array() };
}

// OVMF's own entries (shared/fixtures/ovmf-efivars.bcfg.txt): UiApp in the firmware volume,
// and the DVD drive with 16 bytes of optional data.
const uiApp: LoadOption = {
  attributes: 1,
  description: 'UiApp',
  filePaths: [
    [
      { kind: 'fv', guid: '7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1' },
      { kind: 'fvFile', guid: '462caa21-7614-4503-836e-8ab6f4662331' },
    ],
  ],
  optionalData: new Uint8Array(),
};
const dvd: LoadOption = {
  attributes: 1,
  description: 'UEFI QEMU DVD-ROM QM00005 ',
  filePaths: [
    [
      { kind: 'pci', device: 0x1f, function: 2 },
      { kind: 'sata', hbaPortNumber: 2, portMultiplierPortNumber: 0xffff, lun: 0 },
    ],
  ],
  optionalData: new Uint8Array(16).fill(0x4e),
};

const slotA = espOption('Metropolis Slot A', pathA);
const slotB = espOption('Metropolis Slot B', pathB);

function valid(version: string): LoaderProbe {
  return { loader: { kind: 'metropolis-process-loader', formatVersion: 1, version, cmdline } };
}

function input(fields: Partial<BootSelectionInput>): BootSelectionInput {
  return {
    bootNext: null,
    bootOrder: [],
    entries: new Map(),
    esp,
    loaders: new Map(),
    ...fields,
  };
}

const allLoaders = new Map<string, LoaderProbe>([
  [removableLoaderPath, valid('v1')],
  [pathA, valid('v1')],
  [pathB, valid('v2')],
]);
const ourEntries = new Map<number, LoadOption | Error>([
  [0x10, slotA],
  [0x11, slotB],
]);

test('a fresh node boots the removable path into slot A', (t) => {
  const { chosen, skipped } = selectBoot(input({ loaders: allLoaders }));
  t.deepEqual(skipped, []);
  t.is(chosen?.via, 'removable');
  t.is(chosen?.bootId, null);
  t.is(chosen?.loaderPath, '\\EFI\\BOOT\\BOOTX64.EFI');
  t.is(chosen?.slot, 'A');
  t.is(chosen?.cmdline, 'console=ttyS0 root=PARTLABEL=METROPOLIS-SYSTEM-A');
  t.is(
    chosen?.devicePath,
    'HD(1,GPT,11111111-2222-3333-4444-555555555555,0x800,0x20000)/\\EFI\\BOOT\\BOOTX64.EFI',
  );
});

test('nothing is bootable on an empty ESP', (t) => {
  const { chosen, skipped } = selectBoot(input({}));
  t.is(chosen, undefined);
  t.deepEqual(skipped, [
    {
      via: 'removable',
      bootId: null,
      reason: 'removable media: \\EFI\\BOOT\\BOOTX64.EFI: not found',
    },
  ]);
});

test('BootNext wins over BootOrder and boots slot B with its cmdline', (t) => {
  const { chosen, skipped } = selectBoot(
    input({ bootNext: 0x11, bootOrder: [0x10, 0x11], entries: ourEntries, loaders: allLoaders }),
  );
  t.deepEqual(skipped, []);
  t.is(chosen?.via, 'BootNext');
  t.is(chosen?.bootId, 0x11);
  t.is(chosen?.slot, 'B');
  t.is(chosen?.loader.version, 'v2');
  t.is(chosen?.description, 'Metropolis Slot B');
  t.is(chosen?.cmdline, 'console=ttyS0 root=PARTLABEL=METROPOLIS-SYSTEM-B');
  t.is(
    chosen?.devicePath,
    'HD(1,GPT,11111111-2222-3333-4444-555555555555,0x800,0x20000)/\\EFI\\metropolis\\boot-b.efi',
  );
});

test('without BootNext the first bootable BootOrder entry boots', (t) => {
  const { chosen } = selectBoot(
    input({ bootOrder: [0x10, 0x11], entries: ourEntries, loaders: allLoaders }),
  );
  t.is(chosen?.via, 'BootOrder');
  t.is(chosen?.bootId, 0x10);
  t.is(chosen?.slot, 'A');
});

test('BootNext may name an entry outside BootOrder; other such entries never boot', (t) => {
  const once = selectBoot(
    input({ bootNext: 0x11, bootOrder: [0x10], entries: ourEntries, loaders: allLoaders }),
  );
  t.is(once.chosen?.bootId, 0x11);
  const normal = selectBoot(input({ bootOrder: [0x10], entries: ourEntries, loaders: allLoaders }));
  t.is(normal.chosen?.bootId, 0x10);
  const none = selectBoot(input({ entries: ourEntries, loaders: allLoaders }));
  t.is(none.chosen?.via, 'removable');
});

test('a BootNext whose loader is missing falls back to BootOrder', (t) => {
  const loaders = new Map(allLoaders);
  loaders.delete(pathB);
  const { chosen, skipped } = selectBoot(
    input({ bootNext: 0x11, bootOrder: [0x10, 0x11], entries: ourEntries, loaders }),
  );
  t.is(chosen?.via, 'BootOrder');
  t.is(chosen?.bootId, 0x10);
  t.deepEqual(skipped, [
    { via: 'BootNext', bootId: 0x11, reason: 'Boot0011: \\EFI\\metropolis\\boot-b.efi: not found' },
  ]);
});

test('an inactive entry is passed over', (t) => {
  const entries = new Map(ourEntries).set(0x11, { ...slotB, attributes: 0 });
  const { chosen, skipped } = selectBoot(
    input({ bootOrder: [0x11, 0x10], entries, loaders: allLoaders }),
  );
  t.is(chosen?.bootId, 0x10);
  t.deepEqual(
    skipped.map((skip) => skip.reason),
    ['Boot0011: not active'],
  );
});

test('an invalid loader file is passed over like real firmware passes over a bad image', (t) => {
  const loaders = new Map(allLoaders).set(pathB, {
    failure: 'not a process loader: not UTF-8 JSON',
  });
  const { chosen, skipped } = selectBoot(
    input({ bootOrder: [0x11, 0x10], entries: ourEntries, loaders }),
  );
  t.is(chosen?.bootId, 0x10);
  t.deepEqual(
    skipped.map((skip) => skip.reason),
    ['Boot0011: \\EFI\\metropolis\\boot-b.efi: not a process loader: not UTF-8 JSON'],
  );
});

test('firmware entries for other devices are skipped as not bootable here', (t) => {
  const entries = new Map<number, LoadOption | Error>([
    [0, uiApp],
    [1, dvd],
    [0x10, slotA],
  ]);
  const { chosen, skipped } = selectBoot(
    input({ bootOrder: [0, 1, 0x10], entries, loaders: allLoaders }),
  );
  t.is(chosen?.bootId, 0x10);
  t.is(skipped.length, 2);
  t.regex(skipped[0]?.reason ?? '', /^Boot0000: not a hard drive path: Fv\(/);
  t.regex(skipped[1]?.reason ?? '', /^Boot0001: not a hard drive path: /);
});

test('an entry for another partition, a missing entry and a corrupt entry are skipped', (t) => {
  const entries = new Map<number, LoadOption | Error>([
    [2, espOption('Other disk', pathA, 1, 'aaaaaaaa-2222-3333-4444-555555555555')],
    [3, new Error('Boot0003 is 3 bytes')],
    [0x10, slotA],
  ]);
  const { chosen, skipped } = selectBoot(
    input({ bootOrder: [2, 3, 4, 0x10], entries, loaders: allLoaders }),
  );
  t.is(chosen?.bootId, 0x10);
  t.deepEqual(
    skipped.map((skip) => skip.reason.replace(/: HD\(.*$/, '')),
    [
      "Boot0002: partition aaaaaaaa-2222-3333-4444-555555555555 is not this disk's ESP",
      'Boot0003: does not decode: Boot0003 is 3 bytes',
      'Boot0004: does not exist',
    ],
  );
});

test('when every option fails the removable path is the last resort', (t) => {
  const entries = new Map(ourEntries).set(0x10, { ...slotA, attributes: 0 });
  const loaders = new Map(allLoaders);
  loaders.delete(pathB);
  const { chosen, skipped } = selectBoot(
    input({ bootNext: 0x11, bootOrder: [0x10, 0x11], entries, loaders }),
  );
  t.is(chosen?.via, 'removable');
  t.deepEqual(
    skipped.map((skip) => [skip.via, skip.bootId]),
    [
      ['BootNext', 0x11],
      ['BootOrder', 0x10],
      ['BootOrder', 0x11],
    ],
  );
});

test('only the loaders the rules may reach are probed', (t) => {
  const entries = new Map(ourEntries).set(0x12, espOption('unused', '\\EFI\\other.efi'));
  t.deepEqual(loaderPathsToProbe(input({ bootNext: 0x11, bootOrder: [0x11, 0x10], entries })), [
    pathB,
    pathA,
    removableLoaderPath,
  ]);
});

test('espLoaderPath concatenates file path nodes and stops at the end of the first instance', (t) => {
  const option: LoadOption = {
    attributes: 1,
    description: 'split',
    filePaths: [
      [
        hardDriveGpt(1, 2048n, 131_072n, esp.guid.toUpperCase()),
        filePath('\\EFI\\metropolis'),
        filePath('\\boot-b.efi'),
        { kind: 'endInstance' },
        { kind: 'fv', guid: '7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1' },
      ],
    ],
    optionalData: new Uint8Array(),
  };
  t.deepEqual(espLoaderPath(option, esp.guid), { path: pathB });
  t.deepEqual(espLoaderPath({ ...option, filePaths: [] }, esp.guid), { reason: 'no device path' });
  t.deepEqual(
    espLoaderPath({ ...option, filePaths: [[hardDriveGpt(1, 1n, 1n, esp.guid)]] }, esp.guid),
    { reason: 'no file path' },
  );
});

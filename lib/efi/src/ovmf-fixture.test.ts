// A real efivarfs dump from OVMF against the UEFI shell's own `bcfg boot dump -v` rendering of
// the same entries (test/fixtures): text, descriptions, optional data and byte-exact re-encoding.
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import {
  BootVariables,
  EfiVarStore,
  decodeDevicePath,
  decodeLoadOption,
  devicePathToText,
  encodeDevicePath,
  encodeLoadOption,
  loadOptionToText,
  readBootConfiguration,
  type LoadOption,
} from './index.js';

const fixtures = new URL('../test/fixtures/', import.meta.url);
const efivarsDir = fileURLToPath(new URL('ovmf-efivars/', fixtures));
const store = new EfiVarStore(efivarsDir);
const boot = new BootVariables(store);

interface BcfgOption {
  readonly variable: string;
  readonly description: string;
  readonly devicePath: string;
  readonly optionalData: string;
}

/** The options `bcfg boot dump -v` listed, and the rest of the file's lines. */
async function readBcfg(): Promise<{ options: BcfgOption[]; text: string }> {
  const text = await readFile(new URL('ovmf-efivars.bcfg.txt', fixtures), 'utf8');
  const options: BcfgOption[] = [];
  const blocks = text.split(/^Option: \d+\. /m).slice(1);
  for (const block of blocks) {
    const lines = block.split('\n');
    const field = (name: string): string => {
      const line = lines.find((l) => l.startsWith(`  ${name}`));
      if (line === undefined) throw new Error(`no ${name} in ${block}`);
      return line.slice(line.indexOf('- ') + 2);
    };
    const dump = lines
      .filter((l) => /^ {2}[0-9A-F]{8}: /.test(l))
      .map((l) => l.slice(12, l.indexOf('  *')).replace(/[ -]/g, ''))
      .join('');
    options.push({
      variable: /Variable: (Boot[0-9A-F]{4})/.exec(block)?.[1] ?? '',
      description: field('Desc    '),
      devicePath: field('DevPath '),
      optionalData: field('Optional') === 'Y' ? dump.toLowerCase() : '',
    });
  }
  return { options, text };
}

async function rawValue(name: string): Promise<Uint8Array> {
  return (await store.read(name)).data;
}

function optionalHex(option: LoadOption): string {
  return Buffer.from(option.optionalData).toString('hex');
}

test('every entry bcfg lists decodes to its text, description and optional data', async (t) => {
  const { options } = await readBcfg();
  t.is(options.length, 4);
  for (const expected of options) {
    const bytes = await rawValue(expected.variable);
    const option = decodeLoadOption(bytes);
    t.is(loadOptionToText(option), expected.devicePath, expected.variable);
    t.is(option.description, expected.description);
    t.is(optionalHex(option), expected.optionalData);
    t.deepEqual(encodeLoadOption(option), bytes);
  }
});

test('Boot0010 and Boot0011 render as OVMF printed them', async (t) => {
  const { text } = await readBcfg();
  const printed = /^Boot0011 "(.*)" from (.*)$/m.exec(text);
  t.truthy(printed);
  const [, description = '', devicePath = ''] = printed ?? [];
  t.is(
    devicePath,
    'HD(1,GPT,11111111-2222-3333-4444-555555555555,0x800,0x20000)/\\EFI\\metropolis\\boot-b.efi',
  );
  const b = await boot.entry(0x11);
  t.is(b?.description, description);
  t.is(b === undefined ? '' : loadOptionToText(b), devicePath);
  const a = await boot.entry(0x10);
  t.is(a?.description, 'Slot A');
  t.is(a === undefined ? '' : loadOptionToText(a), devicePath.replace('boot-b.efi', 'boot-a.efi'));
  for (const name of ['Boot0010', 'Boot0011', 'PlatformRecovery0000']) {
    const bytes = await rawValue(name);
    t.deepEqual(encodeLoadOption(decodeLoadOption(bytes)), bytes);
  }
});

test('BootOrder and BootCurrent are what the dump says', async (t) => {
  const { options, text } = await readBcfg();
  // bcfg lists BootOrder in order; the file notes BootCurrent = 0x0002.
  t.deepEqual(
    await boot.bootOrder(),
    options.map((option) => Number.parseInt(option.variable.slice(4), 16)),
  );
  t.is(await boot.bootCurrent(), Number(/BootCurrent = (0x[0-9a-f]+)/i.exec(text)?.[1]));
  t.is(await boot.bootNext(), null);
  t.is((await store.read('BootCurrent')).attributes, 0x6);
});

test('console variables (multi-instance paths) decode and re-encode byte for byte', async (t) => {
  for (const name of ['ConIn', 'ConInDev', 'ConOut', 'ConOutDev', 'ErrOut', 'ErrOutDev']) {
    const bytes = await rawValue(name);
    t.deepEqual(encodeDevicePath(decodeDevicePath(bytes)), bytes, name);
  }
  t.is(
    devicePathToText(decodeDevicePath(await rawValue('ConOut'))),
    'PciRoot(0x0)/Pci(0x1,0x0)/AcpiAdr(0x80010100),/' +
      'PciRoot(0x0)/Pci(0x1F,0x0)/Serial(0x0)/Uart(115200,8,N,1)/' +
      'VenMsg(E0C14753-F9BE-11D2-9A0C-0090273FC14D)',
  );
  t.regex(
    devicePathToText(decodeDevicePath(await rawValue('ConIn'))),
    /,\/UsbHID\(0xFFFF,0xFFFF,0x1,0x1\)$/,
  );
});

test('readBootConfiguration on a copy of the dump', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'efivars-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await cp(efivarsDir, dir, { recursive: true });
  const { options } = await readBcfg();
  const slotPath = (name: string): string =>
    `HD(1,GPT,11111111-2222-3333-4444-555555555555,0x800,0x20000)/\\EFI\\metropolis\\boot-${name}.efi`;
  t.deepEqual(await readBootConfiguration(new BootVariables(new EfiVarStore(dir))), {
    bootCurrent: '0002',
    bootNext: null,
    bootOrder: ['0000', '0001', '0002', '0003'],
    entries: [
      ...options.map((option) => ({
        id: option.variable.slice(4),
        description: option.description,
        active: true,
        devicePath: option.devicePath,
        optionalData: option.optionalData,
      })),
      {
        id: '0010',
        description: 'Slot A',
        active: true,
        devicePath: slotPath('a'),
        optionalData: '',
      },
      {
        id: '0011',
        description: 'Slot B',
        active: true,
        devicePath: slotPath('b'),
        optionalData: '',
      },
    ],
  });
});

// Device path codec and text: Monogon's byte vectors, one example per node type with its EDK2
// text, and the malformed inputs that must become EFI_MALFORMED.
import test, { type ExecutionContext } from 'ava';
import {
  EfiError,
  decodeDevicePath,
  devicePathToText,
  encodeDevicePath,
  filePath,
  hardDriveGpt,
  type DevicePath,
  type DevicePathNode,
} from './index.js';

function hex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text.replace(/[\s|]/g, ''), 'hex'));
}

function roundTrip(t: ExecutionContext, bytes: Uint8Array): DevicePath {
  const path = decodeDevicePath(bytes);
  t.deepEqual(encodeDevicePath(path), bytes);
  return path;
}

function isMalformed(error: unknown): boolean {
  return error instanceof EfiError && error.code === 'EFI_MALFORMED';
}

const end = '7fff0400';

test('Monogon TestNone: the empty path is just End Entire', (t) => {
  t.deepEqual(encodeDevicePath([]), hex(end));
  t.deepEqual(decodeDevicePath(hex(end)), []);
});

test('Monogon TestHD: the UEFI spec example partition', (t) => {
  const node = hardDriveGpt(1, 0x22n, 0x2710000n, '15E39A00-1DD2-1000-8D7F-00A0C92408FC');
  const bytes = hex(
    `04 01 2a 00 | 01 00 00 00 | 22 00 00 00 00 00 00 00 | 00 00 71 02 00 00 00 00 |
     00 9a e3 15 d2 1d 00 10 8d 7f 00 a0 c9 24 08 fc | 02 | 02 | ${end}`,
  );
  t.deepEqual(encodeDevicePath([node]), bytes);
  t.deepEqual(decodeDevicePath(bytes), [
    {
      kind: 'hardDrive',
      partitionNumber: 1,
      partitionStart: 0x22n,
      partitionSize: 0x2710000n,
      partition: { format: 'gpt', guid: '15e39a00-1dd2-1000-8d7f-00a0c92408fc' },
    },
  ]);
});

test('Monogon TestFilePath: asdf', (t) => {
  const bytes = hex(`04 04 0e 00 61 00 73 00 64 00 66 00 00 00 ${end}`);
  t.deepEqual(encodeDevicePath([filePath('asdf')]), bytes);
  t.deepEqual(decodeDevicePath(bytes), [{ kind: 'filePath', path: 'asdf' }]);
});

test('filePath() stores backslashes; the text shows the path as stored', (t) => {
  t.deepEqual(filePath('/EFI/metropolis/boot-a.efi'), {
    kind: 'filePath',
    path: '\\EFI\\metropolis\\boot-a.efi',
  });
  t.is(devicePathToText([filePath('\\EFI\\BOOT\\BOOTX64.EFI')]), '\\EFI\\BOOT\\BOOTX64.EFI');
});

// [bytes without End, EDK2 text] for every typed node, decoded and re-encoded byte for byte.
const textExamples: Array<[string, string, DevicePathNode['kind'][]]> = [
  [
    '02010c00d041030a00000000 01010600021f 03120a000200ffff0000',
    'PciRoot(0x0)/Pci(0x1F,0x2)/Sata(0x2,0xFFFF,0x0)',
    ['acpi', 'pci', 'sata'],
  ],
  [
    '02010c00d041030a00000000 010106000004 030b2500525400aabbcc' +
      '00'.repeat(26) +
      '01 030c1b00 00000000 00000000 0000 0000 0000 00 00000000 00000000',
    'PciRoot(0x0)/Pci(0x4,0x0)/MAC(525400AABBCC,0x1)/IPv4(0.0.0.0)',
    ['acpi', 'pci', 'mac', 'ipv4'],
  ],
  [
    '04071400c9bdb87cebf8344faaea3ee4af6516a1 0406140021aa2c4614760345836e8ab6f4662331',
    'Fv(7CB8BDC9-F8EB-4F34-AAEA-3EE4AF6516A1)/FvFile(462CAA21-7614-4503-836E-8AB6F4662331)',
    ['fv', 'fvFile'],
  ],
  [
    '04012a00 01000000 0008000000000000 0000020000000000 11111111222233334444555555555555 02 02' +
      '04043a00' +
      Buffer.from('\\EFI\\metropolis\\boot-b.efi\0', 'utf16le').toString('hex'),
    'HD(1,GPT,11111111-2222-3333-4444-555555555555,0x800,0x20000)/\\EFI\\metropolis\\boot-b.efi',
    ['hardDrive', 'filePath'],
  ],
  [
    '04012a00 01000000 0008000000000000 0000020000000000 78563412000000000000000000000000 01 01',
    'HD(1,MBR,0x12345678,0x800,0x20000)',
    ['hardDrive'],
  ],
  [
    '030d3c00 ' +
      'fe800000000000000000000000000001 20010db8000000000000000000000abc 0000 0000 0600 00 40 ' +
      '00'.repeat(16),
    'IPv6(2001:0DB8:0000:0000:0000:0000:0000:0ABC)',
    ['ipv6'],
  ],
  [
    '03181d00' + Buffer.from('http://192.0.2.1/boot.efi').toString('hex'),
    'Uri(http://192.0.2.1/boot.efi)',
    ['uri'],
  ],
  [
    '02010c00d041030a00000000 010106000003 03171000 01000000 0102030405060708',
    'PciRoot(0x0)/Pci(0x3,0x0)/NVMe(0x1,08-07-06-05-04-03-02-01)',
    ['acpi', 'pci', 'nvme'],
  ],
  [
    '01010600001f 02010c00d041010500000000 030e1300 00000000 00c2010000000000 08 01 01' +
      ' 030a1400 5347c1e0bef9d2119a0c0090273fc14d',
    'Pci(0x1F,0x0)/Serial(0x0)/Uart(115200,8,N,1)/VenMsg(E0C14753-F9BE-11D2-9A0C-0090273FC14D)',
    ['pci', 'acpi', 'uart', 'vendor'],
  ],
  ['030f0b00ffffffff030101', 'UsbHID(0xFFFF,0xFFFF,0x1,0x1)', ['usbClass']],
  ['030f0b0034120000fe0102', 'UsbDeviceFirmwareUpdate(0x1234,0x0,0x2)', ['usbClass']],
  ['030f0b0034120000ff0102', 'UsbClass(0x1234,0x0,0xFF,0x1,0x2)', ['usbClass']],
  ['02030800 00010180', 'AcpiAdr(0x80010100)', ['acpiAdr']],
  ['02030c00 00010180 01000000', 'AcpiAdr(0x80010100,0x1)', ['acpiAdr']],
  ['02010c00 d0410303 00000000', 'Acpi(PNP0303,0x0)', ['acpi']],
  ['02010c00 78563412 05000000', 'Acpi(0x12345678,0x5)', ['acpi']],
  [
    '01041600' + '00'.repeat(16) + 'abcd',
    'VenHw(00000000-0000-0000-0000-000000000000,ABCD)',
    ['vendor'],
  ],
  ['04031400' + 'ff'.repeat(16), 'VenMedia(FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF)', ['vendor']],
  ['01050800 02000000', 'Ctrl(0x2)', ['controller']],
  ['03010800 01 00 0300', 'Ata(0x3)', ['atapi']],
  ['03020800 0100 0200', 'Scsi(0x1,0x2)', ['scsi']],
  ['03050600 03 00', 'USB(0x3,0x0)', ['usb']],
  ['03140600 6400', 'Vlan(100)', ['vlan']],
  ['04021800 01000000 1000000000000000 2000000000000000', 'CDROM(0x1)', ['cdrom']],
  ['04051400' + '00'.repeat(16), 'Media(00000000-0000-0000-0000-000000000000)', ['mediaProtocol']],
  ['030e1300 00000000 0000000000000000 00 00 00', 'Uart(DEFAULT,DEFAULT,D,D)', ['uart']],
];

for (const [bytes, text, kinds] of textExamples) {
  test(`decodes, re-encodes and prints ${text}`, (t) => {
    const path = roundTrip(t, hex(bytes + end));
    t.deepEqual(
      path.map((node) => node.kind),
      kinds,
    );
    t.is(devicePathToText(path), text);
  });
}

test('nodes without a text form use EDK2 generic names per type', (t) => {
  const cases: Array<[string, string]> = [
    ['01800600abcd', 'HardwarePath(128,ABCD)'],
    ['02020400', 'AcpiPath(2)'],
    ['03210500ff', 'Msg(33,FF)'],
    ['04090400', 'MediaPath(9)'],
    ['05010600 0100', 'BbsPath(1,0100)'],
    ['20030500 7f', 'Path(32,3,7F)'],
    ['7f050400', 'Path(127,5)'],
  ];
  for (const [bytes, text] of cases) {
    const path = roundTrip(t, hex(bytes + end));
    t.is(path[0]?.kind, 'unknown', bytes);
    t.is(devicePathToText(path), text);
  }
});

test('a known node type with a non-standard length stays unknown and keeps its bytes', (t) => {
  // Pci with a trailing byte, Sata one byte short, IPv4 in the old 19-byte form.
  for (const bytes of ['01010700021f00', '03120900020000ffff', '030c1300' + '00'.repeat(15)]) {
    const path = roundTrip(t, hex(bytes + end));
    t.is(path[0]?.kind, 'unknown');
  }
  // A Uart with non-zero reserved bytes cannot come back from the typed form.
  t.is(roundTrip(t, hex('030e1300 01000000 00c2010000000000 08 01 01' + end))[0]?.kind, 'unknown');
});

test('HD partitions that are neither plain GPT nor plain MBR keep every signature byte', (t) => {
  const path = roundTrip(
    t,
    hex(
      '04012a00 02000000 0100000000000000 0200000000000000 78563412ff0000000000000000000000 01 01' +
        end,
    ),
  );
  t.like(path[0], {
    kind: 'hardDrive',
    partition: { format: 'unknown', formatByte: 1, signatureType: 1 },
  });
  t.is(devicePathToText(path), 'HD(2,MBR,0x12345678,0x1,0x2)');
  const odd = roundTrip(
    t,
    hex(
      '04012a00 03000000 0100000000000000 0200000000000000 00000000000000000000000000000000 00 00' +
        end,
    ),
  );
  t.is(devicePathToText(odd), 'HD(3,0,0,0x1,0x2)');
});

test('instances print as EDK2 does: "," then "/" before the next node', (t) => {
  const path = roundTrip(t, hex('01010600 0001 7f010400 01010600 001f' + end));
  t.deepEqual(path, [
    { kind: 'pci', device: 1, function: 0 },
    { kind: 'endInstance' },
    { kind: 'pci', device: 0x1f, function: 0 },
  ]);
  t.is(devicePathToText(path), 'Pci(0x1,0x0),/Pci(0x1F,0x0)');
});

test('decoded data does not alias the input buffer', (t) => {
  const bytes = Buffer.from(hex('20030500 7f' + end));
  const [node] = decodeDevicePath(bytes);
  bytes[4] = 0;
  t.deepEqual(node, { kind: 'unknown', type: 0x20, subType: 3, data: Uint8Array.of(0x7f) });
});

const malformedCases: Array<[string, string, RegExp]> = [
  ['empty input', '', /no End Entire node before offset 0/],
  ['missing terminator', '01010600021f', /no End Entire node before offset 6/],
  ['truncated header', '01010600021f7fff', /header at offset 6 is truncated/],
  ['length below 4', '01010200' + end, /offset 0 has length 2/],
  ['zero-length node', '00000000' + end, /offset 0 has length 0/],
  ['length beyond the buffer', '0101ff00021f' + end, /offset 0 has length 255 but only 10/],
  ['bytes after End Entire', end + '00', /1 bytes follow the End Entire node at offset 0/],
  ['End Entire with a payload', '7fff0500ff', /End Entire node at offset 0 has length 5/],
  [
    'HD payload of 37 bytes',
    '04012900' + '00'.repeat(37) + end,
    /HardDrive node at offset 0 has a 37-byte payload/,
  ],
  ['HD payload of 39 bytes', '04012b00' + '00'.repeat(39) + end, /39-byte payload, want 38/],
  [
    'FilePath without NUL',
    '04040800 61006200' + end,
    /FilePath node at offset 0 is not NUL-terminated/,
  ],
  ['FilePath of odd length', '04040700 610000' + end, /3-byte payload/],
  ['empty FilePath', '04040400' + end, /0-byte payload/],
  [
    'FilePath with an inner NUL',
    '01010600021f 04040c00 6100 0000 6200 0000' + end,
    /NUL inside the path at offset 12/,
  ],
];

for (const [name, bytes, message] of malformedCases) {
  test(`EFI_MALFORMED: ${name}`, (t) => {
    const error = t.throws(() => decodeDevicePath(hex(bytes)), { instanceOf: EfiError });
    t.is(error.code, 'EFI_MALFORMED');
    t.regex(error.message, message);
    t.true(isMalformed(error));
  });
}

test('encoding rejects what it cannot represent with EFI_INVALID_ARGUMENT', (t) => {
  const bad: Array<[() => unknown, RegExp]> = [
    [() => hardDriveGpt(1, 1n, 1n, 'not-a-guid'), /hardDrive.partition.guid "not-a-guid"/],
    [() => hardDriveGpt(-1, 1n, 1n, '11111111-2222-3333-4444-555555555555'), /partitionNumber/],
    [() => hardDriveGpt(1, -1n, 1n, '11111111-2222-3333-4444-555555555555'), /partitionStart/],
    [() => filePath('a\0b'), /without NUL/],
    [() => filePath('x'.repeat(40000)), /more than 65535/],
    [
      () => encodeDevicePath([{ kind: 'pci', device: 256, function: 0 }]),
      /pci.device must be an integer 0..255, got 256/,
    ],
    [
      () =>
        encodeDevicePath([{ kind: 'unknown', type: 0x7f, subType: 0xff, data: new Uint8Array() }]),
      /End Entire/,
    ],
    [
      () => encodeDevicePath([{ kind: 'unknown', type: 4, subType: 1, data: new Uint8Array(3) }]),
      /would not decode/,
    ],
    [
      () =>
        encodeDevicePath([{ kind: 'unknown', type: 4, subType: 4, data: Uint8Array.of(0x61, 0) }]),
      /would not decode/,
    ],
    [() => encodeDevicePath([{ kind: 'acpiAdr', adr: [] }]), /at least one/],
    [() => encodeDevicePath([{ kind: 'uri', uri: 'http://\u0100' }]), /U\+0000..U\+00FF/],
    [
      () => encodeDevicePath([{ kind: 'nvme', namespaceId: 1, eui64: new Uint8Array(7) }]),
      /eui64 must be 8 bytes/,
    ],
    [
      () =>
        encodeDevicePath([
          {
            kind: 'ipv4',
            localAddress: '1.2.3.256',
            remoteAddress: '0.0.0.0',
            localPort: 0,
            remotePort: 0,
            protocol: 0,
            staticIpAddress: 0,
            gatewayAddress: '0.0.0.0',
            subnetMask: '0.0.0.0',
          },
        ]),
      /localAddress "1.2.3.256"/,
    ],
  ];
  for (const [run, message] of bad) {
    const error = t.throws(run, { instanceOf: EfiError });
    t.is(error.code, 'EFI_INVALID_ARGUMENT');
    t.regex(error.message, message);
  }
});

test('IPv6 addresses accept :: shorthand and decode to eight full groups', (t) => {
  const node: DevicePathNode = {
    kind: 'ipv6',
    localAddress: 'fe80::1',
    remoteAddress: '::',
    localPort: 0,
    remotePort: 69,
    protocol: 17,
    ipAddressOrigin: 1,
    prefixLength: 64,
    gatewayAddress: '2001:db8::ffff',
  };
  const [decoded] = decodeDevicePath(encodeDevicePath([node]));
  t.like(decoded, {
    localAddress: 'fe80:0000:0000:0000:0000:0000:0000:0001',
    remoteAddress: '0000:0000:0000:0000:0000:0000:0000:0000',
    gatewayAddress: '2001:0db8:0000:0000:0000:0000:0000:ffff',
  });
  t.is(devicePathToText([node]), 'IPv6(0000:0000:0000:0000:0000:0000:0000:0000)');
});

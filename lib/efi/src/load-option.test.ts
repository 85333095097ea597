// EFI_LOAD_OPTION codec: Monogon's TestEncoding vector, the aligned description search, extra
// FilePathList elements, optional data, and malformed values.
import test from 'ava';
import {
  EfiError,
  decodeLoadOption,
  encodeLoadOption,
  filePath,
  hardDriveGpt,
  loadOptionActive,
  loadOptionToText,
  type LoadOption,
} from './index.js';

function hex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text.replace(/\s/g, ''), 'hex'));
}

const monogonExample: LoadOption = {
  attributes: loadOptionActive,
  description: 'Example',
  filePaths: [
    [hardDriveGpt(1, 5n, 8n, '6ba7b814-9dad-11d1-80b4-00c04fd430c8'), filePath('/test/a.efi')],
  ],
  optionalData: new Uint8Array(),
};

// "generated with old working marshaler and manually double-checked" (Monogon boot_test.go).
const monogonBytes = hex(`01000000 4a00 4500780061006d0070006c0065000000
  04012a00 01000000 0500000000000000 0800000000000000 14b8a76bad9dd11180b400c04fd430c8 02 02
  04041c00 5c0074006500730074005c0061002e006500660069000000 7fff0400`);

test('Monogon TestEncoding: encodes byte for byte and decodes back to the same option', (t) => {
  t.deepEqual(encodeLoadOption(monogonExample), monogonBytes);
  t.deepEqual(decodeLoadOption(monogonBytes), monogonExample);
  t.is(
    loadOptionToText(monogonExample),
    'HD(1,GPT,6BA7B814-9DAD-11D1-80B4-00C04FD430C8,0x5,0x8)/\\test\\a.efi',
  );
});

test('the description ends at an aligned 00 00, so U+0100 and U+xx00 survive', (t) => {
  // U+0100 is 00 01 and U+0200 is 00 02: an unaligned search would stop inside them.
  const option: LoadOption = {
    attributes: 0x109,
    description: 'A\u0100\u0200\u4e00 \ud800',
    filePaths: [[filePath('\\x.efi')]],
    optionalData: Uint8Array.of(0, 0, 1),
  };
  const bytes = encodeLoadOption(option);
  t.deepEqual(decodeLoadOption(bytes), option);
});

test('further FilePathList elements and End Instance nodes are kept in order', (t) => {
  const option: LoadOption = {
    attributes: 0,
    description: '',
    filePaths: [
      [filePath('\\a.efi'), { kind: 'endInstance' }, filePath('\\b.efi')],
      [{ kind: 'unknown', type: 0x99, subType: 1, data: Uint8Array.of(1, 2) }],
      [],
    ],
    optionalData: Uint8Array.of(0xde, 0xad),
  };
  const bytes = encodeLoadOption(option);
  t.deepEqual(decodeLoadOption(bytes), option);
  t.is(loadOptionToText(option), '\\a.efi,/\\b.efi,/Path(153,1,0102),/');
});

test('an empty FilePathList decodes to no paths', (t) => {
  const option: LoadOption = {
    attributes: 1,
    description: 'x',
    filePaths: [],
    optionalData: new Uint8Array(),
  };
  t.deepEqual(encodeLoadOption(option), hex('01000000 0000 78000000'));
  t.deepEqual(decodeLoadOption(hex('01000000 0000 78000000')), option);
  t.is(loadOptionToText(option), '');
});

const malformedCases: Array<[string, string, RegExp]> = [
  ['shorter than the header', '0100000000', /5 bytes, shorter than its 6-byte header/],
  [
    'description without NUL',
    '01000000 0400 4100 42',
    /description starting at offset 6 has no NUL/,
  ],
  [
    'description NUL only at an odd offset',
    '01000000 0400 4100 0100 00',
    /description starting at offset 6 has no NUL/,
  ],
  ['FilePathList past the end', '01000000 0800 0000 7fff0400', /offset 8 has length 8 but only 4/],
  [
    'FilePathList without End Entire',
    '01000000 0600 0000 01010600021f',
    /no End Entire node before offset 14/,
  ],
  [
    'a bad node inside the list',
    '01000000 0800 0000 04040400 7fff0400',
    /FilePath node at offset 8/,
  ],
  [
    'End Entire straddling the list end',
    '01000000 0600 0000 01010600021f 7fff0400',
    /no End Entire node before offset 14/,
  ],
];

for (const [name, bytes, message] of malformedCases) {
  test(`EFI_MALFORMED: ${name}`, (t) => {
    const error = t.throws(() => decodeLoadOption(hex(bytes)), { instanceOf: EfiError });
    t.is(error.code, 'EFI_MALFORMED');
    t.regex(error.message, message);
  });
}

test('encoding rejects a NUL in the description and out-of-range attributes', (t) => {
  for (const option of [
    { ...monogonExample, description: 'a\0b' },
    { ...monogonExample, attributes: 2 ** 32 },
    { ...monogonExample, attributes: -1 },
    {
      ...monogonExample,
      filePaths: [[filePath('x'.repeat(20000))], [filePath('y'.repeat(20000))]],
    },
  ]) {
    const error = t.throws(() => encodeLoadOption(option), { instanceOf: EfiError });
    t.is(error.code, 'EFI_INVALID_ARGUMENT');
  }
});

// Property tests of the load option and device path codecs: valid values round-trip exactly,
// and any bytes at all either decode to something that re-encodes identically or fail with
// EFI_MALFORMED, never another exception.
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import test from 'ava';
import fc from 'fast-check';
import {
  EfiError,
  decodeDevicePath,
  decodeLoadOption,
  encodeDevicePath,
  encodeLoadOption,
  type DevicePathNode,
  type LoadOption,
} from './index.js';

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const bytes = (length: number): fc.Arbitrary<Uint8Array> =>
  fc.uint8Array({ minLength: length, maxLength: length });

const guid = bytes(16).map((raw) => {
  const text = Buffer.from(raw).toString('hex');
  return `${text.slice(0, 8)}-${text.slice(8, 12)}-${text.slice(12, 16)}-${text.slice(16, 20)}-${text.slice(20)}`;
});
const ipv6 = bytes(16).map((raw) =>
  Array.from({ length: 8 }, (_, i) =>
    Buffer.from(raw.subarray(2 * i, 2 * i + 2)).toString('hex'),
  ).join(':'),
);
// Any UTF-16 code unit but NUL, lone surrogates included.
const utf16 = (maxLength: number): fc.Arbitrary<string> =>
  fc.string({
    unit: fc.integer({ min: 1, max: 0xffff }).map((unit) => String.fromCharCode(unit)),
    maxLength,
  });

// (type, subtype) pairs the decoder types; unknown nodes avoid them so that decoding gives
// back the very same objects, not just the same bytes.
const typedPairs = new Set(
  [
    [1, 1],
    [1, 4],
    [1, 5],
    [2, 1],
    [2, 3],
    [3, 1],
    [3, 2],
    [3, 5],
    [3, 10],
    [3, 11],
    [3, 12],
    [3, 13],
    [3, 14],
    [3, 15],
    [3, 18],
    [3, 20],
    [3, 23],
    [3, 24],
    [4, 1],
    [4, 2],
    [4, 3],
    [4, 4],
    [4, 5],
    [4, 6],
    [4, 7],
    [0x7f, 0x01],
    [0x7f, 0xff],
  ].map(([type, subType]) => `${String(type)}/${String(subType)}`),
);

// Node lengths, header included, of the typed (type, subtype) pairs.
const typedLengths: Array<[number, number, number]> = [
  [1, 1, 6],
  [1, 4, 20],
  [1, 4, 23],
  [1, 5, 8],
  [2, 1, 12],
  [2, 3, 8],
  [2, 3, 12],
  [3, 1, 8],
  [3, 2, 8],
  [3, 5, 6],
  [3, 10, 20],
  [3, 11, 37],
  [3, 12, 27],
  [3, 13, 60],
  [3, 14, 19],
  [3, 15, 11],
  [3, 18, 10],
  [3, 20, 6],
  [3, 23, 16],
  [3, 24, 12],
  [4, 1, 42],
  [4, 2, 24],
  [4, 3, 20],
  [4, 5, 20],
  [4, 6, 20],
  [4, 7, 20],
  [0x7f, 1, 4],
];

const anyNode: fc.Arbitrary<DevicePathNode> = fc.oneof(
  fc.record({ kind: fc.constant('pci'), device: u8, function: u8 }),
  fc.record({ kind: fc.constant('controller'), controllerNumber: u32 }),
  fc.record({
    kind: fc.constant('vendor'),
    vendorType: fc.constantFrom('hardware', 'messaging', 'media'),
    guid,
    data: fc.uint8Array({ maxLength: 24 }),
  }),
  fc.record({ kind: fc.constant('acpi'), hid: u32, uid: u32 }),
  fc.record({ kind: fc.constant('acpiAdr'), adr: fc.array(u32, { minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('atapi'), primarySecondary: u8, slaveMaster: u8, lun: u16 }),
  fc.record({ kind: fc.constant('scsi'), pun: u16, lun: u16 }),
  fc.record({ kind: fc.constant('usb'), parentPortNumber: u8, interfaceNumber: u8 }),
  fc.record({
    kind: fc.constant('usbClass'),
    vendorId: u16,
    productId: u16,
    deviceClass: u8,
    deviceSubClass: u8,
    deviceProtocol: u8,
  }),
  fc.record({ kind: fc.constant('mac'), address: bytes(32), ifType: u8 }),
  fc.record({
    kind: fc.constant('ipv4'),
    localAddress: fc.ipV4(),
    remoteAddress: fc.ipV4(),
    localPort: u16,
    remotePort: u16,
    protocol: u16,
    staticIpAddress: u8,
    gatewayAddress: fc.ipV4(),
    subnetMask: fc.ipV4(),
  }),
  fc.record({
    kind: fc.constant('ipv6'),
    localAddress: ipv6,
    remoteAddress: ipv6,
    localPort: u16,
    remotePort: u16,
    protocol: u16,
    ipAddressOrigin: u8,
    prefixLength: u8,
    gatewayAddress: ipv6,
  }),
  fc.record({ kind: fc.constant('uart'), baudRate: u64, dataBits: u8, parity: u8, stopBits: u8 }),
  fc.record({
    kind: fc.constant('sata'),
    hbaPortNumber: u16,
    portMultiplierPortNumber: u16,
    lun: u16,
  }),
  fc.record({ kind: fc.constant('vlan'), vlanId: u16 }),
  fc.record({ kind: fc.constant('nvme'), namespaceId: u32, eui64: bytes(8) }),
  fc.record({
    kind: fc.constant('uri'),
    uri: fc.string({ unit: u8.map((unit) => String.fromCharCode(unit)), maxLength: 40 }),
  }),
  fc.record({
    kind: fc.constant('hardDrive'),
    partitionNumber: u32,
    partitionStart: u64,
    partitionSize: u64,
    partition: fc.oneof(
      fc.record({ format: fc.constant('gpt'), guid }),
      fc.record({ format: fc.constant('mbr'), signature: u32 }),
      fc
        .record({
          format: fc.constant('unknown'),
          formatByte: u8,
          signatureType: u8,
          signature: bytes(16),
        })
        .filter(
          (p) =>
            !(p.formatByte === 2 && p.signatureType === 2) &&
            !(
              p.formatByte === 1 &&
              p.signatureType === 1 &&
              p.signature.subarray(4).every((b) => !b)
            ),
        ),
    ),
  }),
  fc.record({
    kind: fc.constant('cdrom'),
    bootEntry: u32,
    partitionStart: u64,
    partitionSize: u64,
  }),
  fc.record({ kind: fc.constant('filePath'), path: utf16(30) }),
  fc.record({ kind: fc.constant('mediaProtocol'), guid }),
  fc.record({ kind: fc.constant('fvFile'), guid }),
  fc.record({ kind: fc.constant('fv'), guid }),
  fc.constant({ kind: 'endInstance' } as const),
  fc
    .record({
      kind: fc.constant('unknown'),
      type: u8,
      subType: u8,
      data: fc.uint8Array({ maxLength: 24 }),
    })
    .filter((n) => !typedPairs.has(`${String(n.type)}/${String(n.subType)}`)),
);

const loadOption: fc.Arbitrary<LoadOption> = fc.record({
  attributes: u32,
  description: utf16(40),
  filePaths: fc.array(fc.array(anyNode, { maxLength: 6 }), { maxLength: 3 }),
  optionalData: fc.uint8Array({ maxLength: 40 }),
});

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

/** True if `bytes` decodes to a value that re-encodes to `bytes`, or fails as EFI_MALFORMED. */
function decodesFaithfully<T>(
  decode: (bytes: Uint8Array) => T,
  encode: (value: T) => Uint8Array,
  bytes: Uint8Array,
): boolean {
  let value: T;
  try {
    value = decode(bytes);
  } catch (error) {
    if (error instanceof EfiError && error.code === 'EFI_MALFORMED') return true;
    throw error;
  }
  return equalBytes(encode(value), bytes);
}

const decodesOption = (bytes: Uint8Array): boolean =>
  decodesFaithfully(decodeLoadOption, encodeLoadOption, bytes);
const decodesPath = (bytes: Uint8Array): boolean =>
  decodesFaithfully(decodeDevicePath, encodeDevicePath, bytes);

test('valid load options round-trip encode -> decode -> encode exactly', (t) => {
  fc.assert(
    fc.property(loadOption, (option) => {
      const encoded = encodeLoadOption(option);
      const decoded = decodeLoadOption(encoded);
      // structuredClone: fast-check's records have null prototypes, decoded objects do not.
      return (
        isDeepStrictEqual(decoded, structuredClone(option)) &&
        equalBytes(encodeLoadOption(decoded), encoded)
      );
    }),
    { numRuns: 1500 },
  );
  t.pass();
});

test('arbitrary bytes decode faithfully or fail with EFI_MALFORMED', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (raw) => decodesOption(raw) && decodesPath(raw)),
    { numRuns: 3000 },
  );
  // Plausible nodes make the decoder reach payloads: random headers, the exact (or off by one)
  // lengths of typed nodes, and well-formed file paths.
  const node = (type: number, subType: number, payload: Uint8Array): Uint8Array => {
    const length = payload.length + 4;
    return Uint8Array.of(type, subType, length & 0xff, length >> 8, ...payload);
  };
  const randomHeader = fc
    .tuple(fc.constantFrom(1, 2, 3, 4, 5, 0x7f, 0xff), u8, fc.integer({ min: 0, max: 70 }))
    .chain(([type, subType, length]) =>
      fc
        .uint8Array({ minLength: Math.max(0, length - 4), maxLength: Math.max(0, length - 4) })
        .map((payload) => Uint8Array.of(type, subType, length & 0xff, length >> 8, ...payload)),
    );
  const typedHeader = fc
    .tuple(fc.constantFrom(...typedLengths), fc.constantFrom(-1, 0, 0, 0, 1))
    .chain(([[type, subType, length], jitter]) =>
      bytes(Math.max(0, length + jitter - 4)).map((payload) => node(type, subType, payload)),
    );
  const filePathNode = utf16(10).map((path) =>
    node(4, 4, new Uint8Array(Buffer.from(`${path}\0`, 'utf16le'))),
  );
  const header = fc.oneof(randomHeader, typedHeader, filePathNode);
  fc.assert(
    fc.property(fc.array(header, { maxLength: 5 }), fc.boolean(), (nodes, terminate) => {
      const raw = Buffer.concat([
        ...nodes,
        terminate ? Uint8Array.of(0x7f, 0xff, 4, 0) : new Uint8Array(),
      ]);
      return decodesPath(new Uint8Array(raw));
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

const fixtureDir = new URL('../test/fixtures/ovmf-efivars/', import.meta.url);
const fixtureOptions = ['Boot0000', 'Boot0001', 'Boot0002', 'Boot0003', 'Boot0010', 'Boot0011'].map(
  (name) =>
    new Uint8Array(
      readFileSync(new URL(`${name}-8be4df61-93ca-11d2-aa0d-00e098032b8c`, fixtureDir)).subarray(4),
    ),
);

test('every truncation of real load options fails with EFI_MALFORMED or decodes faithfully', (t) => {
  const failures: string[] = [];
  for (const [index, option] of fixtureOptions.entries()) {
    for (let length = 0; length < option.length; length++) {
      if (!decodesOption(option.subarray(0, length)))
        failures.push(`${String(index)}:${String(length)}`);
    }
  }
  t.deepEqual(failures, []);
});

test('mutated encodings decode faithfully or fail with EFI_MALFORMED', (t) => {
  const valid = fc.oneof(
    fc.constantFrom(...fixtureOptions),
    loadOption.map((option) => encodeLoadOption(option)),
  );
  const mutation = fc.oneof(
    // Overwrite a 16-bit value anywhere: node lengths, FilePathListLength, UTF-16 units.
    fc.tuple(fc.constant('u16' as const), fc.nat(), u16),
    // Insert a zero-length or short node header.
    fc.tuple(fc.constant('insert' as const), fc.nat(), fc.integer({ min: 0, max: 5 })),
    // Drop the bytes of an End Entire node, or flip one byte.
    fc.tuple(fc.constant('unterminate' as const), fc.nat(), fc.constant(0)),
    fc.tuple(fc.constant('byte' as const), fc.nat(), u8),
  );
  fc.assert(
    fc.property(
      valid,
      fc.array(mutation, { minLength: 1, maxLength: 3 }),
      (original, mutations) => {
        let raw = Buffer.from(original);
        for (const [kind, where, value] of mutations) {
          const at = raw.length === 0 ? 0 : where % raw.length;
          if (kind === 'u16' && raw.length >= 2) {
            raw.writeUInt16LE(value, Math.min(at, raw.length - 2));
          } else if (kind === 'insert') {
            raw = Buffer.concat([
              raw.subarray(0, at),
              Uint8Array.of(4, 4, value, 0),
              raw.subarray(at),
            ]);
          } else if (kind === 'unterminate') {
            const end = raw.indexOf(Uint8Array.of(0x7f, 0xff, 4, 0), at);
            if (end !== -1) raw = Buffer.concat([raw.subarray(0, end), raw.subarray(end + 4)]);
          } else if (kind === 'byte' && raw.length > 0) {
            raw[at] = value;
          }
        }
        const mutated = new Uint8Array(raw);
        return decodesOption(mutated) && decodesPath(mutated.subarray(Math.min(8, mutated.length)));
      },
    ),
    { numRuns: 3000 },
  );
  t.pass();
});

// Device path bytes <-> nodes (UEFI spec 2.10 section 10.3). Typed where the bytes allow,
// `unknown` otherwise, so every decoded path re-encodes byte for byte; text is elsewhere.
import { ByteReader } from './byte-reader.js';
import { ByteWriter, checkUint } from './byte-writer.js';
import { decodeUtf16, encodeUtf16 } from './efi-string.js';
import { EfiError } from './errors.js';
import { ipv4Text, ipv6Text, parseIpv4, parseIpv6 } from './ip-address.js';
import type {
  DevicePath,
  DevicePathNode,
  FilePathNode,
  HardDriveNode,
  HardDrivePartition,
  UnknownNode,
} from './device-path-node.js';

const headerLength = 4;
const maxNodeLength = 0xffff;
const endType = 0x7f;
const endEntireSubType = 0xff;
const endInstanceSubType = 0x01;

function malformed(message: string): EfiError {
  return new EfiError('EFI_MALFORMED', message);
}

function invalid(message: string): EfiError {
  return new EfiError('EFI_INVALID_ARGUMENT', message);
}

// --- Field codecs ---------------------------------------------------------------------------

/** What a codec reads when the typed form could not reproduce the bytes: an `unknown` node. */
const unrepresentable = Symbol('unrepresentable');
type Unrepresentable = typeof unrepresentable;

/** The node a field belongs to (`FilePath node at offset 12`) and the field's absolute offset. */
type Where = { readonly node: string; readonly offset: number };

/** How one field is stored: its size (or the rest of the payload), read and written. */
interface Codec<T> {
  readonly size: number | 'rest';
  read(p: ByteReader, at: number, size: number, where: Where): T | Unrepresentable;
  /** The field's bytes; EFI_INVALID_ARGUMENT naming `what` for a value it cannot store. */
  write(value: T, what: string): Uint8Array;
}

/** Fixed-size fields named by kind; all but the IP addresses are ByteReader/ByteWriter methods. */
const scalarSizes = { u8: 1, u16: 2, u32: 4, u64: 8, guid: 16, ipv4: 4, ipv6: 16 } as const;
type Scalar = keyof typeof scalarSizes;

function scalar(kind: Scalar): Codec<unknown> {
  return fixed<unknown>(
    scalarSizes[kind],
    (p, at) =>
      kind === 'ipv4'
        ? ipv4Text(p.copy(at, 4))
        : kind === 'ipv6'
          ? ipv6Text(p.copy(at, 16))
          : p[kind](at),
    (w, value, what) => {
      if (kind === 'ipv4') return w.fixed(0, parseIpv4(String(value), what), 4, what);
      if (kind === 'ipv6') return w.fixed(0, parseIpv6(String(value), what), 16, what);
      return w[kind](0, value, what);
    },
  );
}

/** A field of `size` bytes, written into a zeroed buffer of that size. */
function fixed<T>(
  size: number,
  read: (p: ByteReader, at: number) => T | Unrepresentable,
  write: (w: ByteWriter, value: T, what: string) => ByteWriter,
): Codec<T> {
  return { size, read, write: (value, what) => write(new ByteWriter(size), value, what).bytes };
}

/** Exactly `size` raw bytes. */
const bytes = (size: number): Codec<Uint8Array> =>
  fixed(
    size,
    (p, at) => p.copy(at, size),
    (w, v, what) => w.fixed(0, v, size, what),
  );

/** Up to `size` bytes, zero-padded when written, so decoded always `size` long. */
const padded = (size: number): Codec<Uint8Array> =>
  fixed(
    size,
    (p, at) => p.copy(at, size),
    (w, v, what) => {
      if (!(v instanceof Uint8Array) || v.length > size) {
        throw invalid(`${what} must be a Uint8Array of at most ${String(size)} bytes`);
      }
      w.bytes.set(v, 0);
      return w;
    },
  );

/** Reserved bytes: written as zeros; only zeros are reproducible from the typed form. */
const reserved = (size: number): Codec<undefined> =>
  fixed(
    size,
    (p, at) => (p.copy(at, size).some((b) => b !== 0) ? unrepresentable : undefined),
    (w) => w,
  );

/** The HardDrive partition signature (16 bytes), format and signature type. */
const partition = fixed<HardDrivePartition>(
  18,
  (p, at) => {
    const signature = p.copy(at, 16);
    const formatByte = p.u8(at + 16);
    const signatureType = p.u8(at + 17);
    if (formatByte === 2 && signatureType === 2) return { format: 'gpt', guid: p.guid(at) };
    if (formatByte === 1 && signatureType === 1 && signature.subarray(4).every((b) => !b)) {
      return { format: 'mbr', signature: p.u32(at) };
    }
    return { format: 'unknown', formatByte, signatureType, signature };
  },
  (w, v, what) => {
    switch (v.format) {
      case 'gpt':
        return w.guid(0, v.guid, `${what}.guid`).u8(16, 2, '').u8(17, 2, '');
      case 'mbr':
        return w.u32(0, v.signature, `${what}.signature`).u8(16, 1, '').u8(17, 1, '');
      case 'unknown':
        return w
          .fixed(0, v.signature, 16, `${what}.signature`)
          .u8(16, v.formatByte, `${what}.formatByte`)
          .u8(17, v.signatureType, `${what}.signatureType`);
    }
  },
);

/** The rest of the payload, raw. */
const data: Codec<Uint8Array> = {
  size: 'rest',
  read: (p, at, size) => p.copy(at, size),
  write: (v, what) => {
    if (!(v instanceof Uint8Array)) throw invalid(`${what} must be a Uint8Array`);
    return v;
  },
};

/** The rest of the payload as one or more u32 values. */
const u32List: Codec<readonly number[]> = {
  size: 'rest',
  read: (p, at, size) =>
    size < 4 || size % 4 !== 0
      ? unrepresentable
      : Array.from({ length: size / 4 }, (_, i) => p.u32(at + 4 * i)),
  write: (v, what) => {
    if (v.length === 0) throw invalid(`${what} needs at least one value`);
    const w = new ByteWriter(4 * v.length);
    v.forEach((value, index) => w.u32(4 * index, value, `${what}[${String(index)}]`));
    return w.bytes;
  },
};

/** The rest of the payload, one char U+0000..U+00FF per byte. */
const latin1: Codec<string> = {
  size: 'rest',
  read: (p, at, size) => Buffer.from(p.bytes.subarray(at, at + size)).toString('latin1'),
  write: (v, what) => {
    if (Array.from(v).some((char) => char.charCodeAt(0) > 0xff)) {
      throw invalid(`${what} must be a string of chars U+0000..U+00FF`);
    }
    return new Uint8Array(Buffer.from(v, 'latin1'));
  },
};

/** The rest of the payload, a NUL-terminated UTF-16 string; anything else is EFI_MALFORMED. */
const utf16z: Codec<string> = {
  size: 'rest',
  read: (p, at, size, where) => {
    if (size < 2 || size % 2 !== 0) {
      throw malformed(
        `${where.node} has a ${String(size)}-byte payload, not a NUL-terminated UTF-16 string`,
      );
    }
    const text = decodeUtf16(p.bytes, at, at + size);
    const nul = text.indexOf('\0');
    if (nul === -1) throw malformed(`${where.node} is not NUL-terminated`);
    if (nul !== text.length - 1) {
      throw malformed(
        `${where.node} has a NUL inside the path at offset ${String(where.offset + 2 * nul)}`,
      );
    }
    return text.slice(0, -1);
  },
  write: (v, what) => {
    checkPath(v, what);
    return encodeUtf16(v, true);
  },
};

// --- Node layouts --------------------------------------------------------------------------

type TypedNode = Exclude<DevicePathNode, { kind: 'unknown' }>;
type NodeOf<K extends TypedNode['kind']> = Extract<TypedNode, { kind: K }>;

/** A node's payload fields in storage order; `reserved` bytes have no field in the node. */
type Fields<N, Implied extends PropertyKey> = {
  readonly [P in Exclude<keyof N, 'kind' | Implied>]-?: Codec<N[P]> | ScalarOf<N[P]>;
} & { readonly reserved?: Codec<undefined> };

/** The scalar kinds that store a value of type T. */
type ScalarOf<T> = T extends bigint
  ? 'u64'
  : T extends number
    ? 'u8' | 'u16' | 'u32'
    : T extends string
      ? 'guid' | 'ipv4' | 'ipv6'
      : never;

interface LayoutOptions<I> {
  /** Fields the type bytes imply (the vendor node's vendorType). */
  readonly implied?: I;
  /** A payload of another length is EFI_MALFORMED naming this type, not an `unknown` node. */
  readonly strict?: string;
}

/** One node type: its type bytes and its payload fields (the last may take the rest). */
interface Layout extends LayoutOptions<Readonly<Record<string, unknown>>> {
  readonly kind: TypedNode['kind'];
  readonly type: number;
  readonly subType: number;
  readonly fields: readonly (readonly [string, Codec<unknown>])[];
}

function layout<K extends TypedNode['kind'], I extends keyof NodeOf<K> = never>(
  kind: K,
  [type, subType]: readonly [number, number],
  fields: Fields<NodeOf<K>, I>,
  options: LayoutOptions<Pick<NodeOf<K>, I>> = {},
): Layout {
  const entries = Object.entries<Codec<unknown> | Scalar>(fields).map(
    ([name, spec]) => [name, typeof spec === 'string' ? scalar(spec) : spec] as const,
  );
  return { kind, type, subType, fields: entries, ...options };
}

const layouts: readonly Layout[] = [
  layout('pci', [1, 1], { function: 'u8', device: 'u8' }),
  layout('vendor', [1, 4], { guid: 'guid', data }, { implied: { vendorType: 'hardware' } }),
  layout('controller', [1, 5], { controllerNumber: 'u32' }),
  layout('acpi', [2, 1], { hid: 'u32', uid: 'u32' }),
  layout('acpiAdr', [2, 3], { adr: u32List }),
  layout('atapi', [3, 1], { primarySecondary: 'u8', slaveMaster: 'u8', lun: 'u16' }),
  layout('scsi', [3, 2], { pun: 'u16', lun: 'u16' }),
  layout('usb', [3, 5], { parentPortNumber: 'u8', interfaceNumber: 'u8' }),
  layout('vendor', [3, 10], { guid: 'guid', data }, { implied: { vendorType: 'messaging' } }),
  layout('mac', [3, 11], { address: padded(32), ifType: 'u8' }),
  layout('ipv4', [3, 12], {
    localAddress: 'ipv4',
    remoteAddress: 'ipv4',
    localPort: 'u16',
    remotePort: 'u16',
    protocol: 'u16',
    staticIpAddress: 'u8',
    gatewayAddress: 'ipv4',
    subnetMask: 'ipv4',
  }),
  layout('ipv6', [3, 13], {
    localAddress: 'ipv6',
    remoteAddress: 'ipv6',
    localPort: 'u16',
    remotePort: 'u16',
    protocol: 'u16',
    ipAddressOrigin: 'u8',
    prefixLength: 'u8',
    gatewayAddress: 'ipv6',
  }),
  // Only zero reserved bytes are reproducible from the typed form.
  layout('uart', [3, 14], {
    reserved: reserved(4),
    baudRate: 'u64',
    dataBits: 'u8',
    parity: 'u8',
    stopBits: 'u8',
  }),
  layout('usbClass', [3, 15], {
    vendorId: 'u16',
    productId: 'u16',
    deviceClass: 'u8',
    deviceSubClass: 'u8',
    deviceProtocol: 'u8',
  }),
  layout('sata', [3, 18], { hbaPortNumber: 'u16', portMultiplierPortNumber: 'u16', lun: 'u16' }),
  layout('vlan', [3, 20], { vlanId: 'u16' }),
  layout('nvme', [3, 23], { namespaceId: 'u32', eui64: bytes(8) }),
  layout('uri', [3, 24], { uri: latin1 }),
  layout(
    'hardDrive',
    [4, 1],
    { partitionNumber: 'u32', partitionStart: 'u64', partitionSize: 'u64', partition },
    { strict: 'HardDrive' },
  ),
  layout('cdrom', [4, 2], { bootEntry: 'u32', partitionStart: 'u64', partitionSize: 'u64' }),
  layout('vendor', [4, 3], { guid: 'guid', data }, { implied: { vendorType: 'media' } }),
  layout('filePath', [4, 4], { path: utf16z }, { strict: 'FilePath' }),
  layout('mediaProtocol', [4, 5], { guid: 'guid' }),
  layout('fvFile', [4, 6], { guid: 'guid' }),
  layout('fv', [4, 7], { guid: 'guid' }),
  layout('endInstance', [endType, endInstanceSubType], {}),
];

function nodeKey(type: number, subType: number): number {
  return (type << 8) | subType;
}

const layoutByKey = new Map(layouts.map((entry) => [nodeKey(entry.type, entry.subType), entry]));

// --- Decoding ------------------------------------------------------------------------------

/** Whether `value` has the kind and every field of `layout` (as decodeFields builds it). */
function isNodeOf(layout: Layout, value: object): value is TypedNode {
  return (
    Reflect.get(value, 'kind') === layout.kind &&
    layout.fields.every(([name]) => name === 'reserved' || name in value)
  );
}

/** The typed node for `payload`, or undefined when the typed form could not reproduce it. */
function decodeFields(layout: Layout, payload: ByteReader, offset: number): TypedNode | undefined {
  const { fields, strict } = layout;
  const sizes = fields.map(([, codec]) => codec.size);
  const fixedSize = sizes.reduce<number>((sum, size) => sum + (size === 'rest' ? 0 : size), 0);
  const hasRest = sizes.includes('rest');
  if (hasRest ? payload.length < fixedSize : payload.length !== fixedSize) {
    if (strict === undefined) return undefined;
    throw malformed(
      `${strict} node at offset ${String(offset)} has a ${String(payload.length)}-byte payload, want ${String(fixedSize)}`,
    );
  }
  const node: Record<string, unknown> = { kind: layout.kind, ...layout.implied };
  const where = `${strict ?? layout.kind} node at offset ${String(offset)}`;
  let at = 0;
  for (const [name, codec] of fields) {
    const size = codec.size === 'rest' ? payload.length - fixedSize : codec.size;
    const value = codec.read(payload, at, size, {
      node: where,
      offset: offset + headerLength + at,
    });
    if (value === unrepresentable) return undefined;
    if (value !== undefined) node[name] = value;
    at += size;
  }
  return isNodeOf(layout, node) ? node : undefined;
}

/** Decodes the node at `offset` whose header has already been checked. */
function decodeNode(bytes: Uint8Array, offset: number, length: number): DevicePathNode {
  const type = bytes[offset] ?? 0;
  const subType = bytes[offset + 1] ?? 0;
  const payload = new ByteReader(bytes.subarray(offset + headerLength, offset + length));
  const layout = layoutByKey.get(nodeKey(type, subType));
  const node = layout === undefined ? undefined : decodeFields(layout, payload, offset);
  return node ?? { kind: 'unknown', type, subType, data: payload.copy(0, payload.length) };
}

/**
 * Decodes nodes from `start` through the first End Entire node, which must lie within `end`.
 * Returns them and the offset after the End Entire node. Offsets in errors are absolute.
 */
export function decodeDevicePathAt(
  bytes: Uint8Array,
  start: number,
  end: number,
): { path: DevicePath; next: number } {
  const nodes: DevicePathNode[] = [];
  let offset = start;
  for (;;) {
    if (offset === end) {
      throw malformed(`device path has no End Entire node before offset ${String(end)}`);
    }
    if (end - offset < headerLength) {
      throw malformed(
        `device path node header at offset ${String(offset)} is truncated (${String(end - offset)} bytes left)`,
      );
    }
    const type = bytes[offset] ?? 0;
    const subType = bytes[offset + 1] ?? 0;
    const length = (bytes[offset + 2] ?? 0) | ((bytes[offset + 3] ?? 0) << 8);
    if (length < headerLength) {
      throw malformed(
        `device path node at offset ${String(offset)} has length ${String(length)}, less than its 4-byte header`,
      );
    }
    if (length > end - offset) {
      throw malformed(
        `device path node at offset ${String(offset)} has length ${String(length)} but only ${String(end - offset)} bytes are left`,
      );
    }
    if (type === endType && subType === endEntireSubType) {
      if (length !== headerLength) {
        throw malformed(
          `End Entire node at offset ${String(offset)} has length ${String(length)}, want 4`,
        );
      }
      return { path: nodes, next: offset + headerLength };
    }
    nodes.push(decodeNode(bytes, offset, length));
    offset += length;
  }
}

/**
 * Decodes a device path that ends with End Entire (7F FF 04 00) exactly at the end of `bytes`.
 * Throws EFI_MALFORMED (with the byte offset) for anything else; never another error type.
 */
export function decodeDevicePath(bytes: Uint8Array): DevicePath {
  const { path, next } = decodeDevicePathAt(bytes, 0, bytes.length);
  if (next !== bytes.length) {
    throw malformed(
      `${String(bytes.length - next)} bytes follow the End Entire node at offset ${String(next - headerLength)}`,
    );
  }
  return path;
}

// --- Encoding ------------------------------------------------------------------------------

function checkPath(path: string, what: string): void {
  if (path.includes('\0')) {
    throw invalid(`${what} must be a string without NUL characters`);
  }
}

interface EncodedNode {
  readonly type: number;
  readonly subType: number;
  readonly payload: Uint8Array;
}

function encodeUnknown(node: UnknownNode): EncodedNode {
  checkUint(node.type, 0xff, 'unknown.type');
  checkUint(node.subType, 0xff, 'unknown.subType');
  if (node.type === endType && node.subType === endEntireSubType) {
    throw invalid('an unknown node cannot be an End Entire node (7F FF)');
  }
  if (!(node.data instanceof Uint8Array)) throw invalid('unknown.data must be a Uint8Array');
  return { type: node.type, subType: node.subType, payload: node.data };
}

function encodeNode(node: DevicePathNode): EncodedNode {
  if (node.kind === 'unknown') return encodeUnknown(node);
  const layout = layouts.find(
    (candidate) =>
      candidate.kind === node.kind &&
      Object.entries(candidate.implied ?? {}).every(
        ([key, value]) => Reflect.get(node, key) === value,
      ),
  );
  if (layout === undefined) throw invalid(`${node.kind} node has no known encoding`);
  const parts = layout.fields.map(([name, codec]) => {
    const value: unknown = Reflect.get(node, name);
    return codec.write(value, `${node.kind}.${name}`);
  });
  return { type: layout.type, subType: layout.subType, payload: Buffer.concat(parts) };
}

/** The bytes of one node, header included. */
function encodeNodeBytes(node: DevicePathNode, index: number): Uint8Array {
  const { type, subType, payload } = encodeNode(node);
  const length = headerLength + payload.length;
  if (length > maxNodeLength) {
    throw invalid(
      `device path node ${String(index)} (${node.kind}) would be ${String(length)} bytes, more than 65535`,
    );
  }
  const bytes = new Uint8Array(length);
  bytes.set([type, subType, length & 0xff, length >> 8]);
  bytes.set(payload, headerLength);
  if (node.kind === 'unknown') {
    // Raw bytes under a type we check strictly (HardDrive, FilePath) must still decode.
    try {
      decodeNode(bytes, 0, length);
    } catch (error) {
      throw new EfiError(
        'EFI_INVALID_ARGUMENT',
        `device path node ${String(index)} (unknown ${String(type)}/${String(subType)}) would not decode`,
        { cause: error },
      );
    }
  }
  return bytes;
}

/** The bytes of `path`, followed by End Entire (7F FF 04 00). Throws EFI_INVALID_ARGUMENT. */
export function encodeDevicePath(path: DevicePath): Uint8Array {
  const parts = path.map((node, index) => encodeNodeBytes(node, index));
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, headerLength));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  out.set([endType, endEntireSubType, headerLength, 0], offset);
  return out;
}

// --- Builders -------------------------------------------------------------------------------

/**
 * A HardDrive node for a GPT partition: 1-based number, start and size in LBAs, and the
 * partition's unique GUID (not the type GUID). Throws EFI_INVALID_ARGUMENT for bad values.
 */
export function hardDriveGpt(
  partitionNumber: number,
  partitionStart: bigint,
  partitionSize: bigint,
  guid: string,
): HardDriveNode {
  const node: HardDriveNode = {
    kind: 'hardDrive',
    partitionNumber,
    partitionStart,
    partitionSize,
    partition: { format: 'gpt', guid: guid.toLowerCase() },
  };
  encodeNode(node);
  return node;
}

/** A FilePath node; `/` separators become the `\` that EFI uses. */
export function filePath(path: string): FilePathNode {
  checkPath(path, 'file path');
  const node: FilePathNode = { kind: 'filePath', path: path.replaceAll('/', '\\') };
  encodeNodeBytes(node, 0);
  return node;
}

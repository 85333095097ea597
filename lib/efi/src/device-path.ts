// Device path bytes <-> nodes (UEFI spec 2.10 section 10.3). Typed where the bytes allow,
// `unknown` otherwise, so every decoded path re-encodes byte for byte; text is elsewhere.
import { ByteReader } from './byte-reader.js';
import { ByteWriter, checkUint } from './byte-writer.js';
import { decodeUtf16, encodeUtf16 } from './efi-string.js';
import { EfiError } from './errors.js';
import type {
  DevicePath,
  DevicePathNode,
  FilePathNode,
  HardDriveNode,
  HardDrivePartition,
  VendorNode,
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

// --- Decoding -------------------------------------------------------------------------------

type Decoder = (payload: ByteReader, offset: number) => DevicePathNode | undefined;

function nodeKey(type: number, subType: number): number {
  return (type << 8) | subType;
}

/** A decoder for a fixed payload length; other lengths stay `unknown` so their bytes survive. */
function fixed(length: number, decode: (payload: ByteReader) => DevicePathNode): Decoder {
  return (payload) => (payload.length === length ? decode(payload) : undefined);
}

function ipv4Text(payload: ByteReader, offset: number): string {
  return [0, 1, 2, 3].map((index) => String(payload.u8(offset + index))).join('.');
}

function ipv6Text(payload: ByteReader, offset: number): string {
  const groups: string[] = [];
  for (let index = 0; index < 16; index += 2) {
    groups.push(
      ((payload.u8(offset + index) << 8) | payload.u8(offset + index + 1))
        .toString(16)
        .padStart(4, '0'),
    );
  }
  return groups.join(':');
}

function vendor(vendorType: VendorNode['vendorType']): Decoder {
  return (payload) =>
    payload.length < 16
      ? undefined
      : {
          kind: 'vendor',
          vendorType,
          guid: payload.guid(0),
          data: payload.copy(16, payload.length - 16),
        };
}

function decodeHardDrive(payload: ByteReader, offset: number): HardDriveNode {
  if (payload.length !== 38) {
    throw malformed(
      `HardDrive node at offset ${String(offset)} has a ${String(payload.length)}-byte payload, want 38`,
    );
  }
  const formatByte = payload.u8(36);
  const signatureType = payload.u8(37);
  const signature = payload.copy(20, 16);
  let partition: HardDrivePartition;
  if (formatByte === 2 && signatureType === 2) {
    partition = { format: 'gpt', guid: payload.guid(20) };
  } else if (formatByte === 1 && signatureType === 1 && signature.subarray(4).every((b) => !b)) {
    partition = { format: 'mbr', signature: payload.u32(20) };
  } else {
    partition = { format: 'unknown', formatByte, signatureType, signature };
  }
  return {
    kind: 'hardDrive',
    partitionNumber: payload.u32(0),
    partitionStart: payload.u64(4),
    partitionSize: payload.u64(12),
    partition,
  };
}

function decodeFilePath(payload: ByteReader, offset: number): FilePathNode {
  const where = `FilePath node at offset ${String(offset)}`;
  if (payload.length < 2 || payload.length % 2 !== 0) {
    throw malformed(
      `${where} has a ${String(payload.length)}-byte payload, not a NUL-terminated UTF-16 string`,
    );
  }
  const text = decodeUtf16(payload.bytes, 0, payload.length);
  const nul = text.indexOf('\0');
  if (nul === -1) throw malformed(`${where} is not NUL-terminated`);
  if (nul !== text.length - 1) {
    throw malformed(`${where} has a NUL inside the path at offset ${String(offset + 4 + 2 * nul)}`);
  }
  return { kind: 'filePath', path: text.slice(0, -1) };
}

const decoders = new Map<number, Decoder>([
  [nodeKey(1, 1), fixed(2, (p) => ({ kind: 'pci', function: p.u8(0), device: p.u8(1) }))],
  [nodeKey(1, 4), vendor('hardware')],
  [nodeKey(1, 5), fixed(4, (p) => ({ kind: 'controller', controllerNumber: p.u32(0) }))],
  [nodeKey(2, 1), fixed(8, (p) => ({ kind: 'acpi', hid: p.u32(0), uid: p.u32(4) }))],
  [
    nodeKey(2, 3),
    (p) =>
      p.length < 4 || p.length % 4 !== 0
        ? undefined
        : { kind: 'acpiAdr', adr: Array.from({ length: p.length / 4 }, (_, i) => p.u32(4 * i)) },
  ],
  [
    nodeKey(3, 1),
    fixed(4, (p) => ({
      kind: 'atapi',
      primarySecondary: p.u8(0),
      slaveMaster: p.u8(1),
      lun: p.u16(2),
    })),
  ],
  [nodeKey(3, 2), fixed(4, (p) => ({ kind: 'scsi', pun: p.u16(0), lun: p.u16(2) }))],
  [
    nodeKey(3, 5),
    fixed(2, (p) => ({ kind: 'usb', parentPortNumber: p.u8(0), interfaceNumber: p.u8(1) })),
  ],
  [nodeKey(3, 10), vendor('messaging')],
  [nodeKey(3, 11), fixed(33, (p) => ({ kind: 'mac', address: p.copy(0, 32), ifType: p.u8(32) }))],
  [
    nodeKey(3, 12),
    fixed(23, (p) => ({
      kind: 'ipv4',
      localAddress: ipv4Text(p, 0),
      remoteAddress: ipv4Text(p, 4),
      localPort: p.u16(8),
      remotePort: p.u16(10),
      protocol: p.u16(12),
      staticIpAddress: p.u8(14),
      gatewayAddress: ipv4Text(p, 15),
      subnetMask: ipv4Text(p, 19),
    })),
  ],
  [
    nodeKey(3, 13),
    fixed(56, (p) => ({
      kind: 'ipv6',
      localAddress: ipv6Text(p, 0),
      remoteAddress: ipv6Text(p, 16),
      localPort: p.u16(32),
      remotePort: p.u16(34),
      protocol: p.u16(36),
      ipAddressOrigin: p.u8(38),
      prefixLength: p.u8(39),
      gatewayAddress: ipv6Text(p, 40),
    })),
  ],
  [
    // The first four bytes are reserved; only zeros are reproducible from the typed form.
    nodeKey(3, 14),
    (p) =>
      p.length !== 15 || p.u32(0) !== 0
        ? undefined
        : {
            kind: 'uart',
            baudRate: p.u64(4),
            dataBits: p.u8(12),
            parity: p.u8(13),
            stopBits: p.u8(14),
          },
  ],
  [
    nodeKey(3, 15),
    fixed(7, (p) => ({
      kind: 'usbClass',
      vendorId: p.u16(0),
      productId: p.u16(2),
      deviceClass: p.u8(4),
      deviceSubClass: p.u8(5),
      deviceProtocol: p.u8(6),
    })),
  ],
  [
    nodeKey(3, 18),
    fixed(6, (p) => ({
      kind: 'sata',
      hbaPortNumber: p.u16(0),
      portMultiplierPortNumber: p.u16(2),
      lun: p.u16(4),
    })),
  ],
  [nodeKey(3, 20), fixed(2, (p) => ({ kind: 'vlan', vlanId: p.u16(0) }))],
  [
    nodeKey(3, 23),
    fixed(12, (p) => ({ kind: 'nvme', namespaceId: p.u32(0), eui64: p.copy(4, 8) })),
  ],
  [nodeKey(3, 24), (p) => ({ kind: 'uri', uri: Buffer.from(p.bytes).toString('latin1') })],
  [nodeKey(4, 1), decodeHardDrive],
  [
    nodeKey(4, 2),
    fixed(20, (p) => ({
      kind: 'cdrom',
      bootEntry: p.u32(0),
      partitionStart: p.u64(4),
      partitionSize: p.u64(12),
    })),
  ],
  [nodeKey(4, 3), vendor('media')],
  [nodeKey(4, 4), decodeFilePath],
  [nodeKey(4, 5), fixed(16, (p) => ({ kind: 'mediaProtocol', guid: p.guid(0) }))],
  [nodeKey(4, 6), fixed(16, (p) => ({ kind: 'fvFile', guid: p.guid(0) }))],
  [nodeKey(4, 7), fixed(16, (p) => ({ kind: 'fv', guid: p.guid(0) }))],
  [nodeKey(endType, endInstanceSubType), fixed(0, () => ({ kind: 'endInstance' }))],
]);

/** Decodes the node at `offset` whose header has already been checked. */
function decodeNode(bytes: Uint8Array, offset: number, length: number): DevicePathNode {
  const type = bytes[offset] ?? 0;
  const subType = bytes[offset + 1] ?? 0;
  const payload = new ByteReader(bytes.subarray(offset + headerLength, offset + length));
  const node = decoders.get(nodeKey(type, subType))?.(payload, offset);
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

// --- Encoding -------------------------------------------------------------------------------

interface EncodedNode {
  readonly type: number;
  readonly subType: number;
  readonly payload: Uint8Array;
}

function parseIpv4(text: string, what: string): Uint8Array {
  const parts = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  const octets = parts?.slice(1).map(Number) ?? [];
  if (octets.length !== 4 || octets.some((octet) => octet > 255)) {
    throw invalid(`${what} ${JSON.stringify(text)} is not a dotted-quad IPv4 address`);
  }
  return Uint8Array.from(octets);
}

/** The 16 bytes of an IPv6 address in hex groups, `::` allowed. Throws EFI_INVALID_ARGUMENT. */
export function parseIpv6(text: string, what: string): Uint8Array {
  const fail = (): EfiError =>
    invalid(`${what} ${JSON.stringify(text)} is not an IPv6 address (hex groups, optional ::)`);
  const halves = text.split('::');
  if (halves.length > 2) throw fail();
  const groupsOf = (part: string | undefined): string[] =>
    part === undefined || part === '' ? [] : part.split(':');
  const head = groupsOf(halves[0]);
  const tail = groupsOf(halves[1]);
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) throw fail();
  const groups = [...head, ...Array.from({ length: missing }, () => '0'), ...tail];
  const bytes = new Uint8Array(16);
  groups.forEach((group, index) => {
    if (!/^[0-9a-f]{1,4}$/i.test(group)) throw fail();
    const value = Number.parseInt(group, 16);
    bytes[2 * index] = value >> 8;
    bytes[2 * index + 1] = value & 0xff;
  });
  return bytes;
}

const vendorTypes = { hardware: [1, 4], messaging: [3, 10], media: [4, 3] } as const;

function checkPath(path: string, what: string): void {
  if (path.includes('\0')) {
    throw invalid(`${what} must be a string without NUL characters`);
  }
}

function encodeHardDrive(node: HardDriveNode): Uint8Array {
  const w = new ByteWriter(38)
    .u32(0, node.partitionNumber, 'hardDrive.partitionNumber')
    .u64(4, node.partitionStart, 'hardDrive.partitionStart')
    .u64(12, node.partitionSize, 'hardDrive.partitionSize');
  const partition = node.partition;
  switch (partition.format) {
    case 'gpt':
      return w.guid(20, partition.guid, 'hardDrive.partition.guid').u8(36, 2, '').u8(37, 2, '')
        .bytes;
    case 'mbr':
      return w
        .u32(20, partition.signature, 'hardDrive.partition.signature')
        .u8(36, 1, '')
        .u8(37, 1, '').bytes;
    case 'unknown':
      return w
        .fixed(20, partition.signature, 16, 'hardDrive.partition.signature')
        .u8(36, partition.formatByte, 'hardDrive.partition.formatByte')
        .u8(37, partition.signatureType, 'hardDrive.partition.signatureType').bytes;
  }
}

function encodeNode(node: DevicePathNode): EncodedNode {
  switch (node.kind) {
    case 'pci':
      return {
        type: 1,
        subType: 1,
        payload: new ByteWriter(2)
          .u8(0, node.function, 'pci.function')
          .u8(1, node.device, 'pci.device').bytes,
      };
    case 'controller':
      return {
        type: 1,
        subType: 5,
        payload: new ByteWriter(4).u32(0, node.controllerNumber, 'controller.controllerNumber')
          .bytes,
      };
    case 'vendor': {
      const [type, subType] = vendorTypes[node.vendorType];
      if (!(node.data instanceof Uint8Array)) throw invalid('vendor.data must be a Uint8Array');
      const w = new ByteWriter(16 + node.data.length).guid(0, node.guid, 'vendor.guid');
      w.bytes.set(node.data, 16);
      return { type, subType, payload: w.bytes };
    }
    case 'acpi':
      return {
        type: 2,
        subType: 1,
        payload: new ByteWriter(8).u32(0, node.hid, 'acpi.hid').u32(4, node.uid, 'acpi.uid').bytes,
      };
    case 'acpiAdr': {
      if (node.adr.length === 0) throw invalid('acpiAdr.adr needs at least one value');
      const w = new ByteWriter(4 * node.adr.length);
      node.adr.forEach((adr, index) => w.u32(4 * index, adr, `acpiAdr.adr[${String(index)}]`));
      return { type: 2, subType: 3, payload: w.bytes };
    }
    case 'atapi':
      return {
        type: 3,
        subType: 1,
        payload: new ByteWriter(4)
          .u8(0, node.primarySecondary, 'atapi.primarySecondary')
          .u8(1, node.slaveMaster, 'atapi.slaveMaster')
          .u16(2, node.lun, 'atapi.lun').bytes,
      };
    case 'scsi':
      return {
        type: 3,
        subType: 2,
        payload: new ByteWriter(4).u16(0, node.pun, 'scsi.pun').u16(2, node.lun, 'scsi.lun').bytes,
      };
    case 'usb':
      return {
        type: 3,
        subType: 5,
        payload: new ByteWriter(2)
          .u8(0, node.parentPortNumber, 'usb.parentPortNumber')
          .u8(1, node.interfaceNumber, 'usb.interfaceNumber').bytes,
      };
    case 'usbClass':
      return {
        type: 3,
        subType: 15,
        payload: new ByteWriter(7)
          .u16(0, node.vendorId, 'usbClass.vendorId')
          .u16(2, node.productId, 'usbClass.productId')
          .u8(4, node.deviceClass, 'usbClass.deviceClass')
          .u8(5, node.deviceSubClass, 'usbClass.deviceSubClass')
          .u8(6, node.deviceProtocol, 'usbClass.deviceProtocol').bytes,
      };
    case 'mac': {
      if (!(node.address instanceof Uint8Array) || node.address.length > 32) {
        throw invalid('mac.address must be a Uint8Array of at most 32 bytes');
      }
      const w = new ByteWriter(33).u8(32, node.ifType, 'mac.ifType');
      w.bytes.set(node.address, 0);
      return { type: 3, subType: 11, payload: w.bytes };
    }
    case 'ipv4':
      return {
        type: 3,
        subType: 12,
        payload: new ByteWriter(23)
          .fixed(0, parseIpv4(node.localAddress, 'ipv4.localAddress'), 4, '')
          .fixed(4, parseIpv4(node.remoteAddress, 'ipv4.remoteAddress'), 4, '')
          .u16(8, node.localPort, 'ipv4.localPort')
          .u16(10, node.remotePort, 'ipv4.remotePort')
          .u16(12, node.protocol, 'ipv4.protocol')
          .u8(14, node.staticIpAddress, 'ipv4.staticIpAddress')
          .fixed(15, parseIpv4(node.gatewayAddress, 'ipv4.gatewayAddress'), 4, '')
          .fixed(19, parseIpv4(node.subnetMask, 'ipv4.subnetMask'), 4, '').bytes,
      };
    case 'ipv6':
      return {
        type: 3,
        subType: 13,
        payload: new ByteWriter(56)
          .fixed(0, parseIpv6(node.localAddress, 'ipv6.localAddress'), 16, '')
          .fixed(16, parseIpv6(node.remoteAddress, 'ipv6.remoteAddress'), 16, '')
          .u16(32, node.localPort, 'ipv6.localPort')
          .u16(34, node.remotePort, 'ipv6.remotePort')
          .u16(36, node.protocol, 'ipv6.protocol')
          .u8(38, node.ipAddressOrigin, 'ipv6.ipAddressOrigin')
          .u8(39, node.prefixLength, 'ipv6.prefixLength')
          .fixed(40, parseIpv6(node.gatewayAddress, 'ipv6.gatewayAddress'), 16, '').bytes,
      };
    case 'uart':
      return {
        type: 3,
        subType: 14,
        payload: new ByteWriter(15)
          .u64(4, node.baudRate, 'uart.baudRate')
          .u8(12, node.dataBits, 'uart.dataBits')
          .u8(13, node.parity, 'uart.parity')
          .u8(14, node.stopBits, 'uart.stopBits').bytes,
      };
    case 'sata':
      return {
        type: 3,
        subType: 18,
        payload: new ByteWriter(6)
          .u16(0, node.hbaPortNumber, 'sata.hbaPortNumber')
          .u16(2, node.portMultiplierPortNumber, 'sata.portMultiplierPortNumber')
          .u16(4, node.lun, 'sata.lun').bytes,
      };
    case 'vlan':
      return {
        type: 3,
        subType: 20,
        payload: new ByteWriter(2).u16(0, node.vlanId, 'vlan.vlanId').bytes,
      };
    case 'nvme':
      return {
        type: 3,
        subType: 23,
        payload: new ByteWriter(12)
          .u32(0, node.namespaceId, 'nvme.namespaceId')
          .fixed(4, node.eui64, 8, 'nvme.eui64').bytes,
      };
    case 'uri':
      if (Array.from(node.uri).some((char) => char.charCodeAt(0) > 0xff)) {
        throw invalid('uri.uri must be a string of chars U+0000..U+00FF');
      }
      return { type: 3, subType: 24, payload: new Uint8Array(Buffer.from(node.uri, 'latin1')) };
    case 'hardDrive':
      return { type: 4, subType: 1, payload: encodeHardDrive(node) };
    case 'cdrom':
      return {
        type: 4,
        subType: 2,
        payload: new ByteWriter(20)
          .u32(0, node.bootEntry, 'cdrom.bootEntry')
          .u64(4, node.partitionStart, 'cdrom.partitionStart')
          .u64(12, node.partitionSize, 'cdrom.partitionSize').bytes,
      };
    case 'filePath':
      checkPath(node.path, 'filePath.path');
      return { type: 4, subType: 4, payload: encodeUtf16(node.path, true) };
    case 'mediaProtocol':
      return {
        type: 4,
        subType: 5,
        payload: new ByteWriter(16).guid(0, node.guid, 'mediaProtocol.guid').bytes,
      };
    case 'fvFile':
      return {
        type: 4,
        subType: 6,
        payload: new ByteWriter(16).guid(0, node.guid, 'fvFile.guid').bytes,
      };
    case 'fv':
      return {
        type: 4,
        subType: 7,
        payload: new ByteWriter(16).guid(0, node.guid, 'fv.guid').bytes,
      };
    case 'endInstance':
      return { type: endType, subType: endInstanceSubType, payload: new Uint8Array(0) };
    case 'unknown':
      checkUint(node.type, 0xff, 'unknown.type');
      checkUint(node.subType, 0xff, 'unknown.subType');
      if (node.type === endType && node.subType === endEntireSubType) {
        throw invalid('an unknown node cannot be an End Entire node (7F FF)');
      }
      if (!(node.data instanceof Uint8Array)) throw invalid('unknown.data must be a Uint8Array');
      return { type: node.type, subType: node.subType, payload: node.data };
  }
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

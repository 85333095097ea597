// Device path display text as EDK2's DevicePathToText prints it with DisplayOnly=TRUE and
// AllowShortcuts=FALSE: what the UEFI shell's `bcfg boot dump -v` and OVMF's boot manager show.
import type {
  DevicePath,
  DevicePathNode,
  HardDriveNode,
  HardDrivePartition,
  UnknownNode,
  UsbClassNode,
} from './device-path-node.js';
import { parseIpv6 } from './ip-address.js';
import { guidFromBytes } from './guid-bytes.js';

// EDK2's PrintLib writes %x, %02x and %g in uppercase.
function hex(value: number | bigint): string {
  return `0x${value.toString(16).toUpperCase()}`;
}

function hexBytes(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex').toUpperCase();
}

function guidText(guid: string): string {
  return guid.toUpperCase();
}

// EDK2 prints %d arguments as signed 32-bit integers.
function signed32(value: number): string {
  return String(value | 0);
}

function ipv6Display(address: string): string {
  const bytes = Buffer.from(parseIpv6(address, 'IPv6 address'));
  const groups: string[] = [];
  for (let index = 0; index < 16; index += 2) {
    groups.push(
      bytes
        .subarray(index, index + 2)
        .toString('hex')
        .toUpperCase(),
    );
  }
  return groups.join(':');
}

function hex8(value: number): string {
  return `0x${value.toString(16).toUpperCase().padStart(8, '0')}`;
}

// PNP product numbers with a name of their own.
const pnpNames: Record<number, string> = {
  0x0a03: 'PciRoot',
  0x0a08: 'PcieRoot',
  0x0604: 'Floppy',
  0x0301: 'Keyboard',
  0x0501: 'Serial',
  0x0401: 'ParallelPort',
};

function acpiText(hid: number, uid: number): string {
  // A compressed EISA ID "PNP" in the low word; the product number in the high word.
  if ((hid & 0xffff) === 0x41d0) {
    const product = hid >>> 16;
    const name = pnpNames[product];
    if (name !== undefined) return `${name}(${hex(uid)})`;
    return `Acpi(PNP${product.toString(16).toUpperCase().padStart(4, '0')},${hex(uid)})`;
  }
  return `Acpi(${hex8(hid)},${hex(uid)})`;
}

function partitionText(partition: HardDrivePartition): string {
  switch (partition.format) {
    case 'gpt':
      return `GPT,${guidText(partition.guid)}`;
    case 'mbr':
      return `MBR,${hex8(partition.signature)}`;
    case 'unknown': {
      // EDK2 picks the form by the signature type byte alone.
      const signature = Buffer.alloc(16);
      signature.set(partition.signature.subarray(0, 16));
      if (partition.signatureType === 1) return `MBR,${hex8(signature.readUInt32LE(0))}`;
      if (partition.signatureType === 2) return `GPT,${guidText(guidFromBytes(signature))}`;
      return `${String(partition.signatureType)},0`;
    }
  }
}

function hardDriveText(node: HardDriveNode): string {
  const partition = partitionText(node.partition);
  return `HD(${signed32(node.partitionNumber)},${partition},${hex(node.partitionStart)},${hex(node.partitionSize)})`;
}

// USB class codes with a name of their own (EDK2's UefiDevicePathLib.h).
const usbClassNames: Record<number, string> = {
  0x01: 'UsbAudio',
  0x02: 'UsbCDCControl',
  0x03: 'UsbHID',
  0x06: 'UsbImage',
  0x07: 'UsbPrinter',
  0x08: 'UsbMassStorage',
  0x09: 'UsbHub',
  0x0a: 'UsbCDCData',
  0x0b: 'UsbSmartCard',
  0x0e: 'UsbVideo',
  0xdc: 'UsbDiagnostic',
  0xe0: 'UsbWireless',
};
// Subclasses of the application-specific class 0xFE.
const usbReservedSubClassNames: Record<number, string> = {
  0x01: 'UsbDeviceFirmwareUpdate',
  0x02: 'UsbIrdaBridge',
  0x03: 'UsbTestAndMeasurement',
};

function usbClassText(node: UsbClassNode): string {
  const ids = `${hex(node.vendorId)},${hex(node.productId)}`;
  const name = usbClassNames[node.deviceClass];
  if (name !== undefined) {
    return `${name}(${ids},${hex(node.deviceSubClass)},${hex(node.deviceProtocol)})`;
  }
  const reserved = usbReservedSubClassNames[node.deviceSubClass];
  if (node.deviceClass === 0xfe && reserved !== undefined) {
    return `${reserved}(${ids},${hex(node.deviceProtocol)})`;
  }
  return `UsbClass(${ids},${hex(node.deviceClass)},${hex(node.deviceSubClass)},${hex(node.deviceProtocol)})`;
}

const uartParity: Record<number, string> = { 0: 'D', 1: 'N', 2: 'E', 3: 'O', 4: 'M', 5: 'S' };
const uartStopBits: Record<number, string> = { 0: 'D', 1: '1', 2: '1.5', 3: '2' };

// EDK2's generic form names the node type and prints the subtype in decimal, data in hex.
const genericTypeNames: Record<number, string> = {
  1: 'HardwarePath',
  2: 'AcpiPath',
  3: 'Msg',
  4: 'MediaPath',
  5: 'BbsPath',
};

function genericText(node: UnknownNode): string {
  // End This Instance keeps its meaning even with an odd length.
  if (node.type === 0x7f && node.subType === 0x01) return ',';
  const name = genericTypeNames[node.type];
  const head =
    name === undefined
      ? `Path(${String(node.type)},${String(node.subType)}`
      : `${name}(${String(node.subType)}`;
  return node.data.length === 0 ? `${head})` : `${head},${hexBytes(node.data)})`;
}

/** The display text of one node. */
export function devicePathNodeToText(node: DevicePathNode): string {
  switch (node.kind) {
    case 'pci':
      return `Pci(${hex(node.device)},${hex(node.function)})`;
    case 'controller':
      return `Ctrl(${hex(node.controllerNumber)})`;
    case 'vendor': {
      const prefix = { hardware: 'VenHw', messaging: 'VenMsg', media: 'VenMedia' }[node.vendorType];
      const data = node.data.length === 0 ? '' : `,${hexBytes(node.data)}`;
      return `${prefix}(${guidText(node.guid)}${data})`;
    }
    case 'acpi':
      return acpiText(node.hid, node.uid);
    case 'acpiAdr':
      return `AcpiAdr(${node.adr.map(hex).join(',')})`;
    case 'atapi':
      return `Ata(${hex(node.lun)})`;
    case 'scsi':
      return `Scsi(${hex(node.pun)},${hex(node.lun)})`;
    case 'usb':
      return `USB(${hex(node.parentPortNumber)},${hex(node.interfaceNumber)})`;
    case 'usbClass':
      return usbClassText(node);
    case 'mac': {
      // Ethernet (ifType 0 or 1) shows 6 bytes; anything else the whole 32-byte field.
      const size = node.ifType === 0 || node.ifType === 1 ? 6 : 32;
      const address = new Uint8Array(size);
      address.set(node.address.subarray(0, size));
      return `MAC(${hexBytes(address)},${hex(node.ifType)})`;
    }
    case 'ipv4':
      return `IPv4(${node.remoteAddress})`;
    case 'ipv6':
      return `IPv6(${ipv6Display(node.remoteAddress)})`;
    case 'uart': {
      const baud = node.baudRate === 0n ? 'DEFAULT' : String(BigInt.asIntN(64, node.baudRate));
      const dataBits = node.dataBits === 0 ? 'DEFAULT' : String(node.dataBits);
      const parity = uartParity[node.parity] ?? 'x';
      const stopBits = uartStopBits[node.stopBits] ?? 'x';
      return `Uart(${baud},${dataBits},${parity},${stopBits})`;
    }
    case 'sata':
      return `Sata(${hex(node.hbaPortNumber)},${hex(node.portMultiplierPortNumber)},${hex(node.lun)})`;
    case 'vlan':
      return `Vlan(${String(node.vlanId)})`;
    case 'nvme': {
      // EDK2 prints the EUI-64 bytes last to first.
      const eui = Array.from(node.eui64)
        .reverse()
        .map((byte) => byte.toString(16).toUpperCase().padStart(2, '0'));
      return `NVMe(${hex(node.namespaceId)},${eui.join('-')})`;
    }
    case 'uri': {
      const nul = node.uri.indexOf('\0');
      return `Uri(${nul === -1 ? node.uri : node.uri.slice(0, nul)})`;
    }
    case 'hardDrive':
      return hardDriveText(node);
    case 'cdrom':
      return `CDROM(${hex(node.bootEntry)})`;
    case 'filePath':
      return node.path;
    case 'mediaProtocol':
      return `Media(${guidText(node.guid)})`;
    case 'fvFile':
      return `FvFile(${guidText(node.guid)})`;
    case 'fv':
      return `Fv(${guidText(node.guid)})`;
    case 'endInstance':
      return ',';
    case 'unknown':
      return genericText(node);
  }
}

function isInstanceEnd(node: DevicePathNode): boolean {
  return (
    node.kind === 'endInstance' ||
    (node.kind === 'unknown' && node.type === 0x7f && node.subType === 0x01)
  );
}

/**
 * The display text of `path`, e.g.
 * `HD(1,GPT,11111111-2222-3333-4444-555555555555,0x800,0x20000)/\EFI\metropolis\boot-b.efi`.
 *
 * Nodes are joined with `/`. An End Instance node prints `,` and, as in EDK2 (whose separator
 * check reads the string's terminator instead of its last character), the next node still gets
 * a `/`: two instances read `A/B,/C/D`. Nodes without a text form of their own use EDK2's
 * generic form: `HardwarePath(sub,hex)`, `AcpiPath(..)`, `Msg(..)`, `MediaPath(..)`,
 * `BbsPath(..)`, else `Path(type,sub,hex)`, with the subtype in decimal and the data in hex.
 */
export function devicePathToText(path: DevicePath): string {
  let text = '';
  for (const node of path) {
    if (text.length !== 0 && !isInstanceEnd(node)) text += '/';
    text += devicePathNodeToText(node);
  }
  return text;
}

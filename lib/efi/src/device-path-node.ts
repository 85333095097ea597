// The typed form of device path nodes (UEFI spec 2.10 section 10.3): one variant per node type
// we decode; everything else is `unknown` and keeps its bytes.

/** PCI device and function on the parent bus (1/1). */
export interface PciNode {
  readonly kind: 'pci';
  readonly device: number;
  readonly function: number;
}

/** Controller number (1/5). */
export interface ControllerNode {
  readonly kind: 'controller';
  readonly controllerNumber: number;
}

/** Vendor-defined node: VenHw (1/4), VenMsg (3/10) or VenMedia (4/3), GUID plus raw data. */
export interface VendorNode {
  readonly kind: 'vendor';
  readonly vendorType: 'hardware' | 'messaging' | 'media';
  readonly guid: string;
  readonly data: Uint8Array;
}

/** ACPI _HID/_UID (2/1); PciRoot(n) is HID PNP0A03 with UID n. */
export interface AcpiNode {
  readonly kind: 'acpi';
  readonly hid: number;
  readonly uid: number;
}

/** ACPI _ADR values (2/3), at least one. */
export interface AcpiAdrNode {
  readonly kind: 'acpiAdr';
  readonly adr: readonly number[];
}

/** ATAPI (3/1): primarySecondary 0/1, slaveMaster 0/1, LUN. */
export interface AtapiNode {
  readonly kind: 'atapi';
  readonly primarySecondary: number;
  readonly slaveMaster: number;
  readonly lun: number;
}

/** SCSI target and LUN (3/2). */
export interface ScsiNode {
  readonly kind: 'scsi';
  readonly pun: number;
  readonly lun: number;
}

/** USB port and interface (3/5). */
export interface UsbNode {
  readonly kind: 'usb';
  readonly parentPortNumber: number;
  readonly interfaceNumber: number;
}

/** USB device class (3/15); 0xFFFF vendor or product IDs match any. */
export interface UsbClassNode {
  readonly kind: 'usbClass';
  readonly vendorId: number;
  readonly productId: number;
  readonly deviceClass: number;
  readonly deviceSubClass: number;
  readonly deviceProtocol: number;
}

/**
 * Network interface (3/11). `address` is the 32-byte field as stored (Ethernet uses the first
 * 6); shorter addresses are zero-padded when encoding, so decoded ones are always 32 bytes.
 */
export interface MacNode {
  readonly kind: 'mac';
  readonly address: Uint8Array;
  readonly ifType: number;
}

/** IPv4 (3/12, the 27-byte form of UEFI 2.x). Addresses are dotted quads. */
export interface Ipv4Node {
  readonly kind: 'ipv4';
  readonly localAddress: string;
  readonly remoteAddress: string;
  readonly localPort: number;
  readonly remotePort: number;
  readonly protocol: number;
  /** 0 = DHCP, 1 = static; other byte values are kept as they are. */
  readonly staticIpAddress: number;
  readonly gatewayAddress: string;
  readonly subnetMask: string;
}

/**
 * IPv6 (3/13, the 60-byte form of UEFI 2.x). Decoded addresses are eight 4-digit lowercase
 * groups; encoding also accepts `::` shorthand.
 */
export interface Ipv6Node {
  readonly kind: 'ipv6';
  readonly localAddress: string;
  readonly remoteAddress: string;
  readonly localPort: number;
  readonly remotePort: number;
  readonly protocol: number;
  /** 0 = static, 1 = stateless autoconfiguration, 2 = stateful autoconfiguration. */
  readonly ipAddressOrigin: number;
  readonly prefixLength: number;
  readonly gatewayAddress: string;
}

/** UART settings (3/14); 0 means the default for baud rate, data bits, parity and stop bits. */
export interface UartNode {
  readonly kind: 'uart';
  readonly baudRate: bigint;
  readonly dataBits: number;
  readonly parity: number;
  readonly stopBits: number;
}

/** SATA port, port-multiplier port (0xFFFF = none) and LUN (3/18). */
export interface SataNode {
  readonly kind: 'sata';
  readonly hbaPortNumber: number;
  readonly portMultiplierPortNumber: number;
  readonly lun: number;
}

/** VLAN ID (3/20). */
export interface VlanNode {
  readonly kind: 'vlan';
  readonly vlanId: number;
}

/** NVMe namespace (3/23); `eui64` is the 8-byte field as stored. */
export interface NvmeNode {
  readonly kind: 'nvme';
  readonly namespaceId: number;
  readonly eui64: Uint8Array;
}

/** URI (3/24), e.g. for HTTP boot. Bytes map 1:1 to chars U+0000..U+00FF (Latin-1). */
export interface UriNode {
  readonly kind: 'uri';
  readonly uri: string;
}

/** Partition identity inside a HardDrive node. */
export type HardDrivePartition =
  | { readonly format: 'gpt'; readonly guid: string }
  | { readonly format: 'mbr'; readonly signature: number }
  | {
      readonly format: 'unknown';
      readonly formatByte: number;
      readonly signatureType: number;
      readonly signature: Uint8Array;
    };

/** A partition (4/1): 1-based number, start and size in LBAs, GPT GUID or MBR signature. */
export interface HardDriveNode {
  readonly kind: 'hardDrive';
  readonly partitionNumber: number;
  readonly partitionStart: bigint;
  readonly partitionSize: bigint;
  readonly partition: HardDrivePartition;
}

/** El Torito boot entry (4/2). */
export interface CdromNode {
  readonly kind: 'cdrom';
  readonly bootEntry: number;
  readonly partitionStart: bigint;
  readonly partitionSize: bigint;
}

/** A file path (4/4), as stored: backslash-separated, without the terminating NUL. */
export interface FilePathNode {
  readonly kind: 'filePath';
  readonly path: string;
}

/** Media protocol GUID (4/5). */
export interface MediaProtocolNode {
  readonly kind: 'mediaProtocol';
  readonly guid: string;
}

/** PIWG firmware file (4/6), e.g. OVMF's UiApp or Shell. */
export interface FvFileNode {
  readonly kind: 'fvFile';
  readonly guid: string;
}

/** PIWG firmware volume (4/7). */
export interface FvNode {
  readonly kind: 'fv';
  readonly guid: string;
}

/** End This Instance (7F/01): separates the instances of a multi-instance path such as ConOut. */
export interface EndInstanceNode {
  readonly kind: 'endInstance';
}

/**
 * Any other node, and known node types whose length the typed form could not reproduce:
 * `data` is the payload after the 4-byte header.
 */
export interface UnknownNode {
  readonly kind: 'unknown';
  readonly type: number;
  readonly subType: number;
  readonly data: Uint8Array;
}

export type DevicePathNode =
  | PciNode
  | ControllerNode
  | VendorNode
  | AcpiNode
  | AcpiAdrNode
  | AtapiNode
  | ScsiNode
  | UsbNode
  | UsbClassNode
  | MacNode
  | Ipv4Node
  | Ipv6Node
  | UartNode
  | SataNode
  | VlanNode
  | NvmeNode
  | UriNode
  | HardDriveNode
  | CdromNode
  | FilePathNode
  | MediaProtocolNode
  | FvFileNode
  | FvNode
  | EndInstanceNode
  | UnknownNode;

/**
 * A device path without its End Entire node. One instance, or several separated by
 * `endInstance` nodes (console variables; rare in load options).
 */
export type DevicePath = readonly DevicePathNode[];

// efivarfs variables, EFI_LOAD_OPTION and device-path codecs, boot manager variables; no slot policy.
export {
  EfiVarStore,
  bootVariableAttributes,
  type EfiVariableStore,
  efiGlobalVariable,
  systemdLoaderVendor,
  type EfiVariable,
  type WriteOptions,
} from './efi-var-store.js';
export { MemoryVarStore } from './memory-var-store.js';
export { decodeDevicePath, encodeDevicePath, filePath, hardDriveGpt } from './device-path.js';
export type {
  AcpiAdrNode,
  AcpiNode,
  AtapiNode,
  CdromNode,
  ControllerNode,
  DevicePath,
  DevicePathNode,
  EndInstanceNode,
  FilePathNode,
  FvFileNode,
  FvNode,
  HardDriveNode,
  HardDrivePartition,
  Ipv4Node,
  Ipv6Node,
  MacNode,
  MediaProtocolNode,
  NvmeNode,
  PciNode,
  SataNode,
  ScsiNode,
  UartNode,
  UnknownNode,
  UriNode,
  UsbClassNode,
  UsbNode,
  VendorNode,
  VlanNode,
} from './device-path-node.js';
export { devicePathNodeToText, devicePathToText } from './device-path-text.js';
export {
  decodeLoadOption,
  encodeLoadOption,
  loadOptionActive,
  loadOptionToText,
  type LoadOption,
} from './load-option.js';
export { BootVariables, formatBootId } from './boot-variables.js';
export {
  readBootConfiguration,
  type BootConfiguration,
  type BootConfigurationEntry,
} from './boot-configuration.js';
export { decodeEfiString, encodeEfiString } from './efi-string.js';
export { EfiError, type EfiErrorCode } from './errors.js';

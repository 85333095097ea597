// Process nodes: machines emulated by processes on this host, for integration tests, the e2e
// suite and launch-cluster. A node directory, a network namespace, and a UEFI boot-manager
// emulator that boots the node agent from an A/B system slot.
export { ProcessNode, type ProcessNodeOptions, type ProcessNodeState } from './process-node.js';
export { ProcessNetwork, type ProcessNetworkOptions } from './process-network.js';
export { leaseSubnet, type SubnetLease } from './subnet-lease.js';
export { type BootRecord, appendBootRecord, readBootRecords } from './boot-record.js';
export {
  espLoaderPath,
  loaderPathsToProbe,
  removableLoaderPath,
  selectBoot,
  type BootChoice,
  type BootSelection,
  type BootSelectionInput,
  type BootVia,
  type EspPartition,
  type LoaderProbe,
  type SkippedBootOption,
} from './boot-selection.js';
export {
  agentRoots,
  defaultSlotSize,
  installSystem,
  nodeLayout,
  prepareNodeDirectory,
  slotPath,
  type EmulatedDisk,
  type NodeLayout,
} from './node-layout.js';
export { runBootManager, type BootManagerMachine } from './firmware-boot.js';
export { parseProcessLoader } from './process-loader.js';
export { ConsoleLog } from './console-log.js';
export { mountSystemImage, nodeAgentFile, writeSystemImage } from './system-image.js';
export { ProcessNodeError, type ProcessNodeErrorCode } from './errors.js';

// metroctl as a library: the core behind every command, for e2e tests and hack/ launch tools
// that bootstrap and manage clusters and roll out OS updates without spawning the CLI.
export {
  applyOSUpdate,
  type ApplyOSUpdateOptions,
  type ApplyOutcome,
  type BundleServer,
  type ServedFile,
} from './core/apply-os-update.js';
export {
  bootstrapCluster,
  type BootstrapClusterOptions,
  type BootstrappedCluster,
} from './core/bootstrap-cluster.js';
export {
  bundleStillNeeded,
  type BundleNeed,
  type BundleNeedReason,
} from './core/bundle-still-needed.js';
export { certificateFacts, sha256Hex, type CertificateFacts } from './core/certificate-facts.js';
export { changeNodeRoles, type ChangeNodeRolesOptions } from './core/change-node-roles.js';
export {
  ConfigStore,
  type ClusterConfig,
  type ConfigPaths,
  type OwnerCredentials,
} from './core/config-store.js';
export {
  configureKubernetes,
  kubernetesServer,
  type ConfigureKubernetesOptions,
  type KubernetesConfiguration,
} from './core/configure-kubernetes.js';
export { grpcTarget, parseEndpoint, type Endpoint } from './core/endpoint.js';
export {
  mergeKubeconfig,
  writeKubeconfigEntry,
  type KubeconfigEntry,
  type KubeconfigMerge,
} from './core/kubeconfig-merge.js';
export { loadKubeConfig } from './core/load-kube-config.js';
export { isMonogonNode, isOSUpdate } from './core/custom-resource-guards.js';
export { localAddressTowards, nodeFacingAddress } from './core/local-address.js';
export { MonogonNodes, type RoleUpdate } from './core/monogon-nodes.js';
export { nodeIdFromPublicKey } from './core/node-id.js';
export { formatLogEntry, streamNodeLogs, type NodeLogsOptions } from './core/node-logs.js';
export { parseRole, roleAliases, withRole, withoutRole } from './core/node-roles.js';
export {
  heartbeatAge,
  nodeTableColumns,
  nodeTableRow,
  renderNodeTable,
} from './core/node-table.js';
export { describeOSUpdate, notableConditions } from './core/os-update-description.js';
export { osUpdateName, randomNameSuffix } from './core/os-update-name.js';
export {
  parseOSUpdateRequest,
  type ApplyFlags,
  type BundleSource,
  type OSUpdateRequest,
} from './core/os-update-request.js';
export { osUpdateTableColumns, renderOSUpdateTable } from './core/os-update-table.js';
export { OSUpdates } from './core/os-updates.js';
export {
  outputFormats,
  parseOutputFormat,
  renderResourceList,
  type OutputFormat,
} from './core/output-format.js';
export { fetchPeerCertificate } from './core/peer-certificate.js';
export { readRegisterTicket, registerTicketSecret } from './core/register-ticket.js';
export { MetroctlError, exitCodeFor, exitCodes, type MetroctlErrorCode } from './errors.js';

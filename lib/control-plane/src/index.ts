// etcd and kube-apiserver as this project runs them, for the test harness and for nodes.
export {
  etcdArgs,
  healthOnlyAnonymousAuthentication,
  kubeApiserverArgs,
  kubeApiserverHosts,
  metadataAuditPolicy,
  type AuditLogOptions,
  type EtcdOptions,
  type KubeApiserverOptions,
  type TlsFiles,
} from './command-lines.js';
export { encryptionConfig } from './encryption-config.js';
export { kubeconfig, readyz, type ClientCredentials } from './api-access.js';
export {
  EtcdCallError,
  EtcdCluster,
  etcdPeerMembers,
  type EtcdMember,
  type EtcdMemberStatus,
} from './etcd-cluster.js';

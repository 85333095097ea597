// The e2e harness: launch a cluster of process nodes, reach it with metroctl and kubectl.
export { launchCluster, type LaunchOptions, type LaunchedCluster } from './launch-cluster.js';
export { eventually } from '@metropolis/testing';
export { buildBundle, type BundleOptions } from './releases.js';
export { launchLeasedCluster, type LeasedCluster } from './leased-cluster.js';
export { createOSUpdate } from './os-updates.js';
export { ownerCredentials } from './owner-credentials.js';
export { startHollowFleet, type HollowFleet, type HollowFleetOptions } from './hollow-fleet.js';
export {
  checkConsensus,
  loopbackEtcdStatus,
  partitionEtcdPeers,
  peerMembers,
  peerPortAnswer,
  roleCredentials,
} from './etcd-access.js';

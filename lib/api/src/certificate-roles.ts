// Who a certificate speaks for: the cluster CA puts exactly one of these into the subject's
// Organization, and every server authorizes callers by it (node CN = node ID).

export const certificateRoles = {
  /** metroctl's owner certificate, from cluster bootstrap. */
  owner: 'metropolis:owner',
  /** The in-cluster operator. */
  operator: 'metropolis:operator',
  /** A node; its common name is the node ID. */
  node: 'metropolis:node',
} as const;

export type CertificateRole = (typeof certificateRoles)[keyof typeof certificateRoles];

/** The TCP port every node agent serves NodeManagement on. */
export const nodeManagementPort = 7839;

/** The TCP port of NodeRegistration on nodes that hold the cluster CA. */
export const nodeRegistrationPort = 7836;

/** NodeCredentials (role certificates for nodes, mTLS with the node certificate), on CA holders. */
export const nodeCredentialsPort = 7837;

/**
 * The TCP ports of the control plane on a node that runs it. The operator serves /metrics and
 * its liveness endpoint /healthz on operatorMetrics.
 */
export const controlPlanePorts = {
  etcdClient: 2379,
  etcdPeer: 2380,
  kubeApiserver: 6443,
  operatorMetrics: 7841,
} as const;

/**
 * The DNS name in an etcd member certificate that marks it as a peer: etcd accepts a peer
 * connection only from a certificate of the etcd CA that carries it
 * (`--peer-cert-allowed-hostname`). kube-apiserver's etcd client certificate lacks it.
 */
export const etcdPeerHostname = 'etcd-peer.metropolis';

/** The namespace of the cluster's own workloads (the operator's lease, events). */
export const systemNamespace = 'monogon-system';

// The flags etcd and kube-apiserver get, in one place for the test harness and for nodes, so
// both run the control plane the same way. Paths and addresses are the caller's choice.

export interface TlsFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

export interface EtcdOptions {
  readonly name: string;
  readonly dataDir: string;
  /** URLs etcd listens on for clients (https). */
  readonly clientUrls: readonly string[];
  readonly advertiseClientUrls: readonly string[];
  readonly peerUrls: readonly string[];
  readonly advertisePeerUrls: readonly string[];
  /** `name=peerUrl,...` of the members the new member starts with. */
  readonly initialCluster: string;
  readonly initialClusterState: 'new' | 'existing';
  /**
   * Serving and client-auth certificates for clients and peers; `tls.ca` is the CA that both
   * clients and peers must chain to (on nodes the etcd CA, never the cluster CA).
   */
  readonly tls: TlsFiles;
  /**
   * Accept a peer only if its certificate names this host (a DNS SAN only peer certificates
   * carry): a client certificate of the same CA cannot pose as a member. Unset: any certificate
   * of `tls.ca` is a peer.
   */
  readonly allowedPeerHostname?: string;
  /** Skips fsync: only for throwaway test data. @default false */
  readonly unsafeNoFsync?: boolean;
  /**
   * A revocation list (DER X.509 CRL; etcd reads no PEM) of `tls.ca`, read on every client and peer handshake: a
   * listed certificate is refused. It must exist before etcd starts (an empty list will do).
   */
  readonly crlFile?: string;
}

/** etcd's command line: TLS with client-certificate authentication for clients and peers. */
export function etcdArgs(options: EtcdOptions): string[] {
  const { tls } = options;
  return [
    `--name=${options.name}`,
    `--data-dir=${options.dataDir}`,
    `--listen-client-urls=${options.clientUrls.join(',')}`,
    `--advertise-client-urls=${options.advertiseClientUrls.join(',')}`,
    `--listen-peer-urls=${options.peerUrls.join(',')}`,
    `--initial-advertise-peer-urls=${options.advertisePeerUrls.join(',')}`,
    `--initial-cluster=${options.initialCluster}`,
    `--initial-cluster-state=${options.initialClusterState}`,
    `--cert-file=${tls.cert}`,
    `--key-file=${tls.key}`,
    `--trusted-ca-file=${tls.ca}`,
    '--client-cert-auth',
    `--peer-cert-file=${tls.cert}`,
    `--peer-key-file=${tls.key}`,
    `--peer-trusted-ca-file=${tls.ca}`,
    '--peer-client-cert-auth',
    ...(options.crlFile === undefined
      ? []
      : [`--client-crl-file=${options.crlFile}`, `--peer-crl-file=${options.crlFile}`]),
    ...(options.allowedPeerHostname === undefined
      ? []
      : [`--peer-cert-allowed-hostname=${options.allowedPeerHostname}`]),
    // Membership changes go through the operator, which checks quorum itself with a quorum read
    // on every voter that stays (docs/cluster.md). etcd's own check counts a voter only once it
    // has been connected for 5 s, so right after a join it refused safe removals and learner adds.
    '--strict-reconfig-check=false',
    '--log-level=warn',
    ...(options.unsafeNoFsync === true ? ['--unsafe-no-fsync'] : []),
  ];
}

export interface KubeApiserverOptions {
  readonly etcdServers: readonly string[];
  /** CA of etcd's serving certificate, and the client certificate kube-apiserver presents. */
  readonly etcdTls: TlsFiles;
  readonly bindAddress: string;
  readonly advertiseAddress: string;
  readonly securePort: number;
  readonly certDir: string;
  /** Serving certificate and key, and the CA that client certificates must chain to. */
  readonly servingTls: TlsFiles;
  readonly serviceClusterIpRange: string;
  readonly serviceAccountIssuer: string;
  readonly serviceAccountPublicKey: string;
  readonly serviceAccountSigningKey: string;
  /** An EncryptionConfiguration file (see encryptionConfig): what is encrypted in etcd. */
  readonly encryptionConfig?: string;
  /** @default [] */
  readonly disableAdmissionPlugins?: readonly string[];
  /**
   * An AuthenticationConfiguration file (see {@link healthOnlyAnonymousAuthentication}); without
   * it kube-apiserver's default lets anonymous requests in everywhere RBAC allows.
   */
  readonly authenticationConfig?: string;
  /** The audit log: policy file (see {@link metadataAuditPolicy}), log file and its rotation. */
  readonly audit?: AuditLogOptions;
  readonly extraArgs?: readonly string[];
}

export interface AuditLogOptions {
  readonly policyFile: string;
  readonly logPath: string;
  /** Rotated at this size. */
  readonly maxSizeMb: number;
  /** Rotated files kept. */
  readonly maxBackups: number;
}

/**
 * An AuthenticationConfiguration with anonymous requests allowed only on the health endpoints,
 * as load balancers and probes without credentials need them; everything else needs a
 * certificate.
 */
export function healthOnlyAnonymousAuthentication(): string {
  return [
    'apiVersion: apiserver.config.k8s.io/v1',
    'kind: AuthenticationConfiguration',
    'anonymous:',
    '  enabled: true',
    '  conditions:',
    ...['/livez', '/readyz', '/healthz'].map((path) => `    - path: ${path}`),
    '',
  ].join('\n');
}

/**
 * An audit policy that records who did what to which object (Metadata level: no request or
 * response bodies, so never a Secret's data), except the health probes.
 */
export function metadataAuditPolicy(): string {
  return [
    'apiVersion: audit.k8s.io/v1',
    'kind: Policy',
    'omitStages: [RequestReceived]',
    'rules:',
    '  - level: None',
    '    nonResourceURLs: [/livez, /livez/*, /readyz, /readyz/*, /healthz, /healthz/*]',
    '  - level: Metadata',
    '',
  ].join('\n');
}

/** kube-apiserver's command line: RBAC, x509 client certificates, etcd over mTLS. */
export function kubeApiserverArgs(options: KubeApiserverOptions): string[] {
  const disabled = options.disableAdmissionPlugins ?? [];
  return [
    `--etcd-servers=${options.etcdServers.join(',')}`,
    `--etcd-cafile=${options.etcdTls.ca}`,
    `--etcd-certfile=${options.etcdTls.cert}`,
    `--etcd-keyfile=${options.etcdTls.key}`,
    `--bind-address=${options.bindAddress}`,
    `--advertise-address=${options.advertiseAddress}`,
    `--secure-port=${String(options.securePort)}`,
    `--cert-dir=${options.certDir}`,
    `--tls-cert-file=${options.servingTls.cert}`,
    `--tls-private-key-file=${options.servingTls.key}`,
    `--client-ca-file=${options.servingTls.ca}`,
    `--service-cluster-ip-range=${options.serviceClusterIpRange}`,
    `--service-account-issuer=${options.serviceAccountIssuer}`,
    `--service-account-key-file=${options.serviceAccountPublicKey}`,
    `--service-account-signing-key-file=${options.serviceAccountSigningKey}`,
    ...(options.encryptionConfig === undefined
      ? []
      : [`--encryption-provider-config=${options.encryptionConfig}`]),
    '--authorization-mode=RBAC',
    '--profiling=false',
    ...(disabled.length > 0 ? [`--disable-admission-plugins=${disabled.join(',')}`] : []),
    ...(options.authenticationConfig === undefined
      ? []
      : [`--authentication-config=${options.authenticationConfig}`]),
    ...(options.audit === undefined
      ? []
      : [
          `--audit-policy-file=${options.audit.policyFile}`,
          `--audit-log-path=${options.audit.logPath}`,
          `--audit-log-maxsize=${String(options.audit.maxSizeMb)}`,
          `--audit-log-maxbackup=${String(options.audit.maxBackups)}`,
        ]),
    ...(options.extraArgs ?? []),
  ];
}

/** The names kube-apiserver's serving certificate must carry for in-cluster clients. */
export function kubeApiserverHosts(addresses: readonly string[], firstServiceIp: string): string[] {
  return [
    ...addresses,
    firstServiceIp,
    'localhost',
    'kubernetes',
    'kubernetes.default',
    'kubernetes.default.svc',
    'kubernetes.default.svc.cluster.local',
  ];
}

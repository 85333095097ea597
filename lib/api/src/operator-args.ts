// The operator's command line, as the node agent writes it when a KubernetesController starts
// one and as tests do: one builder, so writer and the operator's flag parser cannot drift
// (operator/test/main.test.ts runs the real operator with what this builds).

export interface OperatorArgs {
  readonly kubeconfig: string;
  /** The cluster CA and the operator's client certificate and key (PEM files) for node agents. */
  readonly tls: { readonly ca: string; readonly cert: string; readonly key: string };
  /** Who competes for the lease (the node ID on a node). */
  readonly identity: string;
  /** A Go-style duration, e.g. `10s`. */
  readonly heartbeatTimeout: string;
  /**
   * etcd membership: the local member's client URL (loopback), the etcd CA and a client
   * certificate and key of that CA (PEM files).
   */
  readonly etcd?: {
    readonly endpoint: string;
    readonly ca: string;
    readonly cert: string;
    readonly key: string;
  };
  /** host:port of /metrics and /healthz; default the operator's own. */
  readonly metricsListen?: string;
  /** Leader election timing (Go-style durations); default the operator's own. */
  readonly lease?: {
    readonly duration: string;
    readonly renewDeadline: string;
    readonly retryPeriod: string;
  };
}

/**
 * The operator's watch-framework worker, bundled beside `operator.mjs` in a system image: the
 * operator loads it into a worker thread, and the image builder writes it.
 */
export const operatorWatchWorkerFile = 'operator-watch.mjs';

/**
 * Node and V8 flags of the operator's process (before its program on node's command line: V8
 * sizes a heap when it creates it, so the program cannot set them itself). What each gives is
 * measured in docs/operator.md "Memory".
 */
export const operatorNodeFlags: readonly string[] = [
  // V8 favours memory over speed: a 1 MiB semi-space instead of one a fleet's status traffic
  // grows to 16 MiB (twice, both committed) while a few MiB of it live, and an old space that
  // grows less between full collections. At 100 nodes: 50 MiB less, the same CPU watching.
  '--optimize-for-size',
];

/**
 * Environment variables the operator runs with on top of the agent's. glibc gives each thread
 * that allocates its own 64 MiB malloc arena (up to 8 per core); the operator's threads (main,
 * the watch worker, V8's and libuv's helpers) each kept megabytes of free memory in theirs.
 * Two arenas hold the same allocations with less left over.
 */
export const operatorEnvironment: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

export function operatorArgs(options: OperatorArgs): string[] {
  const { tls, etcd, lease } = options;
  return [
    '--kubeconfig',
    options.kubeconfig,
    '--tls-ca',
    tls.ca,
    '--tls-cert',
    tls.cert,
    '--tls-key',
    tls.key,
    ...(etcd === undefined
      ? []
      : [
          '--etcd-endpoint',
          etcd.endpoint,
          '--etcd-ca',
          etcd.ca,
          '--etcd-cert',
          etcd.cert,
          '--etcd-key',
          etcd.key,
        ]),
    '--identity',
    options.identity,
    '--heartbeat-timeout',
    options.heartbeatTimeout,
    ...(options.metricsListen === undefined ? [] : ['--metrics-listen', options.metricsListen]),
    ...(lease === undefined
      ? []
      : [
          '--lease-duration',
          lease.duration,
          '--renew-deadline',
          lease.renewDeadline,
          '--retry-period',
          lease.retryPeriod,
        ]),
  ];
}

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
  /** etcd membership: a client URL and a client certificate and key the member trusts. */
  readonly etcd?: { readonly endpoint: string; readonly cert: string; readonly key: string };
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
      : ['--etcd-endpoint', etcd.endpoint, '--etcd-cert', etcd.cert, '--etcd-key', etcd.key]),
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

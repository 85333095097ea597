// Composition root of the operator: reads flags and files, builds the logger, the Kubernetes
// configuration, the node-agent dialer and metrics, runs the operator, and alone decides the
// exit code. Crash-only: a lost lease or a failed watch ends the process; its runner restarts it.
import { readFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { controlPlanePorts, parseDuration, systemNamespace } from '@metropolis/api';
import { errorMessage } from '@metropolis/errors';
import { createLogger, type LogLevel } from '@metropolis/logging';
import { Supervisor } from '@metropolis/supervisor';
import { EtcdMembership, type MemberProbe } from './consensus/etcd-membership.js';
import { OperatorError } from './errors.js';
import { MetricsServer } from './metrics/metrics-server.js';
import { OperatorMetrics } from './metrics/operator-metrics.js';
import { SharedAgentKubeConfig } from './kube/shared-agent-kube-config.js';
import { GrpcNodeAgentDialer, type NodeAgentTls } from './node-client/node-agent-client.js';
import { Operator } from './operator.js';

const exitFailed = 1;
const exitUsage = 2;

interface Flags {
  kubeconfig?: string;
  tlsCa: string;
  tlsCert: string;
  tlsKey: string;
  etcdEndpoint?: string;
  etcdCa?: string;
  etcdCert?: string;
  etcdKey?: string;
  heartbeatTimeout: number;
  statusRefresh: number;
  nodeLeaseRenew: number;
  metricsListen: string;
  leaseNamespace: string;
  leaseName: string;
  leaseDuration: number;
  renewDeadline: number;
  retryPeriod: number;
  identity: string;
  eventsNamespace: string;
  logLevel: LogLevel;
}

/** Milliseconds in a duration flag, in the Go syntax every program shares (@metropolis/api). */
function flagDuration(text: string): number {
  const ms = parseDuration(text.trim());
  if (ms === undefined) {
    throw new InvalidArgumentError(
      `"${text}" is not a duration of more than 0 such as 10s, 500ms or 1h30m`,
    );
  }
  return ms;
}

/** A duration flag; help shows the default as written ("10s"), the value is milliseconds. */
function durationOption(flags: string, description: string, defaultText: string): Option {
  return new Option(flags, description)
    .argParser(flagDuration)
    .default(flagDuration(defaultText), defaultText);
}

function program(run: (flags: Flags) => Promise<void>): Command {
  return new Command('metropolis-operator')
    .description('Reconciles MonogonNode resources by driving node agents (leader-elected).')
    .option(
      '--kubeconfig <path>',
      'kubeconfig file (default: $KUBECONFIG, ~/.kube/config or in-cluster)',
    )
    .requiredOption('--tls-ca <path>', 'cluster CA certificate (PEM) that node agents present')
    .requiredOption(
      '--tls-cert <path>',
      "the operator's client certificate (PEM, role metropolis:operator)",
    )
    .requiredOption('--tls-key <path>', "the operator's client key (PEM)")
    .option(
      '--etcd-endpoint <url>',
      "the local etcd member's client URL for membership changes (without it, ConsensusMember changes are refused)",
    )
    .option('--etcd-ca <path>', 'the etcd CA certificate (PEM)')
    .option('--etcd-cert <path>', 'client certificate for etcd (PEM, from the etcd CA)')
    .option('--etcd-key <path>', 'client key for etcd (PEM)')
    .addOption(
      durationOption(
        '--heartbeat-timeout <duration>',
        'silence after which a node is HEARTBEAT_TIMEOUT',
        '10s',
      ),
    )
    .addOption(
      durationOption(
        '--status-refresh <duration>',
        'how often a status that only moves lastHeartbeat or details is written',
        '5m',
      ),
    )
    .addOption(
      durationOption(
        '--node-lease-renew <duration>',
        "how often a node's heartbeat Lease is renewed while its agent reports",
        '30s',
      ),
    )
    .option(
      '--metrics-listen <host:port>',
      'serve Prometheus /metrics and the liveness endpoint /healthz here ("" disables)',
      // Loopback: the metrics name nodes and updates, and the local agent is the one that asks.
      `127.0.0.1:${String(controlPlanePorts.operatorMetrics)}`,
    )
    .option(
      '--lease-namespace <namespace>',
      'namespace of the leader election Lease',
      systemNamespace,
    )
    .option('--lease-name <name>', 'name of the leader election Lease', 'metropolis-operator')
    .addOption(
      durationOption(
        '--lease-duration <duration>',
        'how long a lease holds without renewal',
        '15s',
      ),
    )
    .addOption(
      durationOption(
        '--renew-deadline <duration>',
        'how long a leader tries to renew before it exits',
        '10s',
      ),
    )
    .addOption(
      durationOption(
        '--retry-period <duration>',
        'pause between lease acquire/renew attempts',
        '2s',
      ),
    )
    .option(
      '--identity <id>',
      'this instance in the lease and in events (default: hostname-random)',
    )
    .option('--events-namespace <namespace>', 'namespace of Events about MonogonNodes', 'default')
    .addOption(
      new Option('--log-level <level>', 'log level')
        .choices(['debug', 'info', 'warn', 'error'])
        .default('info'),
    )
    .exitOverride()
    .showHelpAfterError()
    .action(async (_options: unknown, command: Command) => {
      await run(flagsOf(command.opts()));
    });
}

/** commander hands options over untyped; parsers and choices() have checked the values. */
function flagsOf(raw: Record<string, unknown>): Flags {
  const text = (key: string): string => (typeof raw[key] === 'string' ? raw[key] : '');
  const number = (key: string): number => (typeof raw[key] === 'number' ? raw[key] : 0);
  const level = text('logLevel');
  return {
    ...(typeof raw.kubeconfig === 'string' ? { kubeconfig: raw.kubeconfig } : {}),
    ...(typeof raw.etcdEndpoint === 'string' ? { etcdEndpoint: raw.etcdEndpoint } : {}),
    ...(typeof raw.etcdCa === 'string' ? { etcdCa: raw.etcdCa } : {}),
    ...(typeof raw.etcdCert === 'string' ? { etcdCert: raw.etcdCert } : {}),
    ...(typeof raw.etcdKey === 'string' ? { etcdKey: raw.etcdKey } : {}),
    tlsCa: text('tlsCa'),
    tlsCert: text('tlsCert'),
    tlsKey: text('tlsKey'),
    heartbeatTimeout: number('heartbeatTimeout'),
    statusRefresh: number('statusRefresh'),
    nodeLeaseRenew: number('nodeLeaseRenew'),
    metricsListen: text('metricsListen'),
    leaseNamespace: text('leaseNamespace'),
    leaseName: text('leaseName'),
    leaseDuration: number('leaseDuration'),
    renewDeadline: number('renewDeadline'),
    retryPeriod: number('retryPeriod'),
    identity: text('identity') || `${hostname()}-${randomUUID().slice(0, 8)}`,
    eventsNamespace: text('eventsNamespace'),
    logLevel: level === 'debug' || level === 'warn' || level === 'error' ? level : 'info',
  };
}

async function readPem(path: string, flag: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    throw new OperatorError(
      'OPERATOR_TLS_FILES',
      `cannot read ${flag} ${path}: ${errorMessage(cause)}`,
      {
        cause,
      },
    );
  }
}

async function readTls(flags: Flags): Promise<NodeAgentTls> {
  const read = readPem;
  return {
    caPem: await read(flags.tlsCa, '--tls-ca'),
    certificatePem: await read(flags.tlsCert, '--tls-cert'),
    keyPem: await read(flags.tlsKey, '--tls-key'),
  };
}

/** "host:port", ":port" (all interfaces) or "[v6]:port". */
function listenAddress(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text);
  const port = Number(match?.[3]);
  if (match === null || !Number.isInteger(port) || port > 65_535) {
    throw new OperatorError('OPERATOR_BAD_FLAG', `--metrics-listen ${text}: expected host:port`);
  }
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}

async function etcdMembership(
  flags: Flags,
): Promise<((probe: MemberProbe) => EtcdMembership) | undefined> {
  const endpoint = flags.etcdEndpoint;
  if (endpoint === undefined) return undefined;
  if (flags.etcdCa === undefined || flags.etcdCert === undefined || flags.etcdKey === undefined) {
    throw new OperatorError(
      'OPERATOR_BAD_FLAG',
      '--etcd-endpoint needs --etcd-ca, --etcd-cert and --etcd-key',
    );
  }
  const credentials = {
    caPem: await readPem(flags.etcdCa, '--etcd-ca'),
    certificatePem: await readPem(flags.etcdCert, '--etcd-cert'),
    keyPem: await readPem(flags.etcdKey, '--etcd-key'),
  };
  return (probe) => new EtcdMembership(endpoint, credentials, probe);
}

async function run(flags: Flags): Promise<void> {
  const log = createLogger({
    format: 'json',
    level: flags.logLevel,
    fields: { service: 'operator', identity: flags.identity },
  });
  const kubeConfig = new SharedAgentKubeConfig();
  if (flags.kubeconfig === undefined) kubeConfig.loadFromDefault();
  else kubeConfig.loadFromFile(flags.kubeconfig);
  const metrics = new OperatorMetrics({ processMetrics: true });
  const consensus = await etcdMembership(flags);
  const operator = new Operator({
    kubeConfig,
    dialer: new GrpcNodeAgentDialer(await readTls(flags)),
    ...(consensus === undefined ? {} : { consensus }),
    logger: log,
    metrics,
    identity: flags.identity,
    lease: {
      namespace: flags.leaseNamespace,
      name: flags.leaseName,
      durationMs: flags.leaseDuration,
      renewDeadlineMs: flags.renewDeadline,
      retryPeriodMs: flags.retryPeriod,
    },
    heartbeatTimeoutMs: flags.heartbeatTimeout,
    statusRefreshMs: flags.statusRefresh,
    nodeLeaseRenewMs: flags.nodeLeaseRenew,
    eventsNamespace: flags.eventsNamespace,
  });

  const controller = new AbortController();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      log.info('shutting down', { signal });
      controller.abort();
    });
  }
  const supervisor = new Supervisor(controller.signal, { log });
  if (flags.metricsListen !== '') {
    const { host, port } = listenAddress(flags.metricsListen);
    const server = new MetricsServer({
      registry: metrics.registry,
      host,
      port,
      logger: log.child({ component: 'metrics' }),
    });
    supervisor.run('metrics', (signal) => server.run(signal));
  }
  log.info('operator starting', {
    lease: `${flags.leaseNamespace}/${flags.leaseName}`,
    heartbeatTimeoutMs: flags.heartbeatTimeout,
  });
  try {
    await operator.run(controller.signal);
    log.info('operator stopped');
  } catch (error) {
    log.error('operator failed', {
      code: error instanceof OperatorError ? error.code : 'UNEXPECTED',
      error: errorMessage(error),
    });
    throw error;
  } finally {
    controller.abort();
    await supervisor.done();
  }
}

async function main(argv: readonly string[]): Promise<number> {
  try {
    await program(run).parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander printed the problem (or the help) already.
      return error.exitCode === 0 ? 0 : exitUsage;
    }
    if (error instanceof OperatorError) {
      process.stderr.write(`metropolis-operator: ${error.message} [${error.code}]\n`);
      return error.code === 'OPERATOR_BAD_FLAG' ? exitUsage : exitFailed;
    }
    process.stderr.write(`metropolis-operator: unexpected failure: ${errorMessage(error)}\n`);
    return exitFailed;
  }
}

// Exit, not just set the code: stray sockets (gRPC channels) must not keep a stopped or deposed
// operator alive.
process.exit(await main(process.argv));

// Composition root of the node agent: parses the command line, builds every service with its
// dependencies, supervises the long-running ones, and alone decides the process's exit.
import { access, readFile } from 'node:fs/promises';
import { setTimeout } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { networkInterfaces } from 'node:os';
import { Command, InvalidArgumentError } from 'commander';
import { nodeManagementPort, NodeLayout } from '@metropolis/api';
import { BootVariables, EfiVarStore } from '@metropolis/efi';
import { errorMessage } from '@metropolis/errors';
import { LogRing, createLogger, type Logger } from '@metropolis/logging';
import { Supervisor } from '@metropolis/supervisor';
import { ClusterNode } from './cluster/cluster-node.js';
import { NodeIdentity } from './identity/node-identity.js';
import { managementService } from './rpc/management-service.js';
import { startManagementServer, type RunningServer } from './rpc/management-server.js';
import { SlotManager } from './slots/slot-manager.js';
import { slotFromCmdline } from './slots/slot.js';
import { TrialWatchdog } from './slots/trial-watchdog.js';
import { HealthBook } from './health/health-book.js';
import { NodeChecks } from './health/node-checks.js';
import { StatusService } from './status/status-service.js';
import {
  readEspPartition,
  readJoinParameters,
  readManagementCertificates,
  readRelease,
  readTrustedKeys,
} from './storage/node-files.js';
import { Stager } from './update/stager.js';

interface RunOptions {
  efivarfs: string;
  esp: string;
  systemA: string;
  systemB: string;
  data: string;
  disk: string;
  cmdline: string;
  listen: string;
  advertiseAddress?: string;
  trialTimeout: number;
  heartbeat: number;
  flavour: 'process' | 'vm';
  etcd?: string;
  kubeApiserver?: string;
  operator?: string;
  crds?: string;
  heartbeatTimeout: number;
}

/** How long a shutdown (a reboot) waits for the services to stop before the agent exits. */
const shutdownGraceMs = 15_000;

const architectures: Partial<Record<string, 'x86_64' | 'aarch64'>> = {
  x64: 'x86_64',
  arm64: 'aarch64',
};

async function run(options: RunOptions): Promise<void> {
  const bootTimeMs = Date.now();
  const ring = new LogRing();
  const release = await readRelease(new URL('./release.json', import.meta.url));
  const layout = new NodeLayout({
    efivarfs: options.efivarfs,
    esp: options.esp,
    systemA: options.systemA,
    systemB: options.systemB,
    data: options.data,
    disk: options.disk,
    cmdline: options.cmdline,
  });
  const identity = await NodeIdentity.loadOrCreate(layout.nodeKey);
  const log = createLogger({
    format: 'json',
    ring,
    fields: { service: 'node-agent', node: identity.nodeId, version: release.version },
  });
  const runningSlot = slotFromCmdline(await readFile(layout.roots.cmdline, 'utf8'));
  log.info('node agent starting', { slot: runningSlot });

  const controller = new AbortController();
  let server: RunningServer | undefined;
  const supervisor = new Supervisor(controller.signal, { log });
  // Role services stop gracefully before the exit (an etcd leader hands its leadership over, the
  // operator releases its lease), within a bound: a hung service must not hold a reboot.
  const shutdown = (code: number): void => {
    controller.abort();
    const stopped = Promise.all([server?.stop(), supervisor.done()]);
    void Promise.race([stopped, setTimeout(shutdownGraceMs)]).finally(() => process.exit(code));
  };
  // On a process node the firmware emulator turns any exit into a reboot (panic=reboot).
  const reboot = (reason: string): void => {
    log.warn('rebooting', { reason });
    shutdown(0);
  };
  process.once('SIGTERM', () => {
    log.info('shutting down on SIGTERM');
    shutdown(0);
  });

  const slots = new SlotManager({
    variables: new BootVariables(new EfiVarStore(layout.roots.efivarfs)),
    layout,
    esp: await readEspPartition(layout.roots.disk),
    runningSlot,
  });
  const ensured = await slots.ensureBootEntries();
  log.info('boot entries ensured', {
    created: ensured.created,
    addedToOrder: ensured.addedToOrder,
  });

  const architecture = architectures[process.arch];
  if (architecture === undefined) throw new Error(`unsupported architecture ${process.arch}`);
  const stager = new Stager({
    slots,
    layout,
    trustedKeys: () => readTrustedKeys(layout),
    flavour: options.flavour,
    architecture,
    fetch,
  });
  await stager.clearStaging();

  const watchdog = new TrialWatchdog({
    slots,
    bootTimeMs,
    timeoutMs: options.trialTimeout * 1000,
    reboot,
  });
  const boot = await slots.state();
  if (boot.trial) {
    log.warn('trial boot: waiting for CommitBoot', {
      slot: runningSlot,
      deadline: new Date(watchdog.deadlineMs).toISOString(),
    });
  }
  // Health is measured: the node's own checks and those of its role services, all of them.
  const health = new HealthBook(['node', 'roles'], {
    onChange: () => {
      status.changed();
    },
  });
  const nodeChecks = new NodeChecks({
    dataDir: layout.roots.data,
    probeFile: layout.healthProbe,
    nodeCertificate: async () => (await readManagementCertificates(layout))?.certificatePem,
    boot: () => slots.state(),
    trialDeadlineMs: () => watchdog.deadlineMs,
    releaseHealthCheck: release.healthCheck,
    report: (checks) => {
      health.record('node', checks);
    },
  });
  const status = new StatusService({
    nodeId: identity.nodeId,
    version: release.version,
    slots,
    health: () => health.health,
    healthChecks: () => health.checks,
    trialDeadlineMs: () => watchdog.deadlineMs,
    // The cluster is built below; status is only read once the node serves its API.
    roles: () => cluster.runningRoles,
    appliedRoles: () => cluster.appliedRoles,
    bootTimeMs,
    address: options.advertiseAddress ?? firstAddress(),
  });

  supervisor.run('trial-watchdog', (signal) => watchdog.run(signal));
  await nodeChecks.check();
  supervisor.run('node-checks', (signal) => nodeChecks.run(signal));

  const address = options.advertiseAddress ?? firstAddress();
  const cluster = new ClusterNode({
    layout,
    identity,
    address,
    binaries: {
      ...(options.etcd === undefined ? {} : { etcd: options.etcd }),
      ...(options.kubeApiserver === undefined ? {} : { kubeApiserver: options.kubeApiserver }),
      ...(await beside(options.operator, './operator.mjs').then((path) =>
        path === undefined ? {} : { operator: path },
      )),
    },
    kubeApiserverArgs: release.kubeApiserverArgs,
    crdsDir: (await beside(options.crds, './crds/')) ?? '',
    supervisor,
    signal: controller.signal,
    heartbeatTimeoutSeconds: options.heartbeatTimeout,
    log: log.child({ component: 'cluster' }),
    onRolesChanged: () => {
      status.changed();
    },
    reportRoleHealth: (checks) => {
      health.record('roles', checks);
    },
  });
  const serveManagement = async (): Promise<void> => {
    const certificates = await readManagementCertificates(layout);
    if (certificates === undefined) throw new Error('owned node without certificates');
    server = await startManagementServer(
      options.listen,
      { ...certificates, keyPem: await identity.keyPair.privateKeyPem() },
      managementService({
        slots,
        stager,
        status,
        logs: ring,
        log: log.child({ component: 'management' }),
        trialDeadlineMs: () => watchdog.deadlineMs,
        reboot,
        bootTimeMs,
        applyRoles: (roles, options) => cluster.applyRoles(roles, options),
        heartbeatMs: options.heartbeat,
      }),
    );
    log.info('management API serving', { listen: options.listen, port: server.port });
  };
  const joinParameters = await readJoinParameters(layout);
  if (await cluster.owned()) {
    await serveManagement();
    cluster.resume().catch((error: unknown) => {
      log.error('control plane failed to start', { error: errorMessage(error) });
    });
  } else if (joinParameters !== undefined) {
    log.info('joining a cluster', { endpoints: joinParameters.endpoints });
    // What a node does once in its life (join, or bootstrap below) is loaded only then.
    const { joinCluster } = await import('./cluster/join.js');
    joinCluster(
      {
        parameters: joinParameters,
        identity,
        address,
        layout,
        log: log.child({ component: 'join' }),
      },
      controller.signal,
    )
      .then(serveManagement)
      .then(() => cluster.resume())
      .catch((error: unknown) => {
        log.error('joining failed', { error: errorMessage(error) });
        shutdown(1);
      });
  } else {
    log.info('node not owned: serving the bootstrap endpoint', { listen: options.listen });
    const { startBootstrapServer } = await import('./cluster/bootstrap-server.js');
    const bootstrap = await startBootstrapServer(
      options.listen,
      identity,
      address,
      cluster,
      log,
      () => {
        // The management API takes over the port once the node is owned.
        void bootstrap
          .stop()
          .then(serveManagement)
          .catch((error: unknown) => {
            log.error('management API failed to start', { error: errorMessage(error) });
            shutdown(1);
          });
      },
    );
    server = bootstrap;
  }
  log.info('node agent running', {
    slot: runningSlot,
    trial: boot.trial,
    healthy: health.health.healthy,
  });
  await supervisor.done();
}

/** `explicit` if given, else `relative` beside this program if it exists (in a system image). */
async function beside(explicit: string | undefined, relative: string): Promise<string | undefined> {
  if (explicit !== undefined) return explicit;
  const path = fileURLToPath(new URL(relative, import.meta.url));
  return access(path).then(
    () => path,
    () => undefined,
  );
}

function firstAddress(): string {
  const addresses = Object.values(networkInterfaces())
    .flat()
    .filter((address) => address !== undefined && address.family === 'IPv4' && !address.internal);
  return addresses[0]?.address ?? '127.0.0.1';
}

function positiveNumber(value: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0)
    throw new InvalidArgumentError('not a positive number');
  return number;
}

function reportFatal(log: Logger | undefined, error: unknown): void {
  if (log) log.error('node agent failed', { error: errorMessage(error) });
  else process.stderr.write(`metropolis-node-agent: ${errorMessage(error)}\n`);
}

const program = new Command('metropolis-node-agent')
  .description(
    'The Metropolis node agent: node identity, A/B slots, EFI boot variables, management API.',
  )
  .showHelpAfterError();

program
  .command('run')
  .description(
    "Run the agent (started by the node's init, or by a process node's firmware emulator).",
  )
  .requiredOption('--efivarfs <dir>', 'efivarfs directory')
  .requiredOption('--esp <dir>', 'mounted EFI system partition')
  .requiredOption('--system-a <path>', 'system slot A (partition or file)')
  .requiredOption('--system-b <path>', 'system slot B (partition or file)')
  .requiredOption('--data <dir>', 'mounted data partition')
  .requiredOption('--disk <file>', 'disk description (the ESP partition entry) as JSON')
  .requiredOption('--cmdline <file>', 'kernel command line')
  .option('--listen <host:port>', 'management API address', `0.0.0.0:${String(nodeManagementPort)}`)
  .option('--advertise-address <ip>', 'address reported in the node status')
  .option(
    '--trial-timeout <seconds>',
    'reboot a trial boot not committed within this time',
    positiveNumber,
    300,
  )
  .option('--heartbeat <ms>', 'WatchStatus interval when nothing changes', positiveNumber, 2000)
  .option(
    '--flavour <flavour>',
    'bundle flavour this node accepts (process|vm)',
    (value: string): RunOptions['flavour'] => {
      if (value === 'process' || value === 'vm') return value;
      throw new InvalidArgumentError('Allowed choices are process, vm.');
    },
    'process',
  )
  .option('--etcd <path>', 'etcd binary, for a node that runs consensus')
  .option('--kube-apiserver <path>', 'kube-apiserver binary, for a Kubernetes controller node')
  .option('--operator <path>', 'operator program (default: operator.mjs beside this program)')
  .option(
    '--crds <dir>',
    'CustomResourceDefinitions to install (default: crds/ beside this program)',
  )
  .option(
    '--heartbeat-timeout <seconds>',
    'operator: silence after which a node is HEARTBEAT_TIMEOUT',
    positiveNumber,
    10,
  )
  .action(async (options: RunOptions) => {
    try {
      await run(options);
    } catch (error) {
      // The firmware emulator (or init) reboots the node: panic=reboot.
      reportFatal(undefined, error);
      process.exit(1);
    }
  });

const efi = program.command('efi').description('Inspect EFI variables.');
efi
  .command('dump')
  .description('Print BootCurrent, BootNext, BootOrder and every Boot#### entry.')
  .requiredOption('--efivarfs <dir>', 'efivarfs directory (e.g. /sys/firmware/efi/efivars)')
  .option('--json', 'print JSON instead of a table')
  .action(async (options: { efivarfs: string; json?: boolean }) => {
    try {
      const { efiDump, renderBootConfiguration } = await import('./cli/efi-dump.js');
      const config = await efiDump(options.efivarfs);
      process.stdout.write(
        options.json ? `${JSON.stringify(config, null, 2)}\n` : renderBootConfiguration(config),
      );
    } catch (error) {
      reportFatal(undefined, error);
      process.exitCode = 1;
    }
  });

await program.parseAsync();

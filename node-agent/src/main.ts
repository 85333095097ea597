// Composition root of the node agent: parses the command line, builds every service with its
// dependencies, supervises the long-running ones, and alone decides the process's exit.
import { access, readFile } from 'node:fs/promises';
import { setTimeout } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { networkInterfaces } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { nodeManagementPort, NodeLayout, parseDuration } from '@metropolis/api';
import { BootVariables, EfiVarStore } from '@metropolis/efi';
import { errorMessage } from '@metropolis/errors';
import { LogRing, createLogger, type Logger } from '@metropolis/logging';
import { startAgent, type RunningAgent } from './agent/start-agent.js';
import { defaultLifetimes } from './cluster/certificate-lifetimes.js';
import { consumeHaltFile } from './cluster/test-halt.js';
import { NodeIdentity } from './identity/node-identity.js';
import { slotFromCmdline } from './slots/slot.js';
import { readEspPartition, readRelease } from './storage/node-files.js';
import { httpFetch } from './update/http-fetch.js';
import { defaultDownloadLimits } from './update/stager.js';

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
  revocationPeriod: number;
  insecureBootstrap?: boolean;
  testHaltFile?: string;
  downloadConnectTimeout: number;
  downloadIdleTimeout: number;
  downloadTotalTimeout: number;
  certificateLifetime: number;
  ownerCertificateLifetime: number;
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

  let agent: RunningAgent | undefined = undefined;
  // Role services stop gracefully before the exit (an etcd leader hands its leadership over, the
  // operator releases its lease), within a bound: a hung service must not hold a reboot.
  const shutdown = (code: number): void => {
    void Promise.race([agent?.stop(), setTimeout(shutdownGraceMs)]).finally(() =>
      process.exit(code),
    );
  };
  process.once('SIGTERM', () => {
    log.info('shutting down on SIGTERM');
    shutdown(0);
  });
  const address = options.advertiseAddress ?? firstAddress();
  agent = await startAgent({
    machine: {
      layout,
      variables: new BootVariables(new EfiVarStore(layout.roots.efivarfs)),
      esp: await readEspPartition(layout.roots.disk),
      runningSlot: slotFromCmdline(await readFile(layout.roots.cmdline, 'utf8')),
      bootTimeMs,
      // On a process node the firmware emulator turns any exit into a reboot (panic=reboot).
      reboot: (reason) => {
        log.warn('rebooting', { reason });
        shutdown(0);
      },
      fail: () => {
        shutdown(1);
      },
    },
    settings: {
      listen: options.listen,
      address,
      trialTimeoutSeconds: options.trialTimeout,
      heartbeatMs: options.heartbeat,
      flavour: options.flavour,
      architecture: hostArchitecture(),
      binaries: {
        ...(options.etcd === undefined ? {} : { etcd: options.etcd }),
        ...(options.kubeApiserver === undefined ? {} : { kubeApiserver: options.kubeApiserver }),
        ...(await beside(options.operator, './operator.mjs').then((path) =>
          path === undefined ? {} : { operator: path },
        )),
      },
      crdsDir: (await beside(options.crds, './crds/')) ?? '',
      heartbeatTimeoutSeconds: options.heartbeatTimeout,
      revocationPeriodMs: options.revocationPeriod,
      insecureBootstrap: options.insecureBootstrap === true,
      certificateLifetimes: {
        leafMs: options.certificateLifetime,
        ownerMs: options.ownerCertificateLifetime,
      },
      download: {
        connectTimeoutMs: options.downloadConnectTimeout * 1000,
        idleTimeoutMs: options.downloadIdleTimeout * 1000,
        totalTimeoutMs: options.downloadTotalTimeout * 1000,
      },
    },
    release,
    identity,
    log,
    ring,
    fetch: httpFetch,
    ...(options.testHaltFile === undefined
      ? {}
      : { halt: await consumeHaltFile(options.testHaltFile, log) }),
  });
  await agent.done();
}

function hostArchitecture(): 'x86_64' | 'aarch64' {
  const architecture = architectures[process.arch];
  if (architecture === undefined) throw new Error(`unsupported architecture ${process.arch}`);
  return architecture;
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

/** Options of every command that runs agents (a real one, a hollow fleet). */
function trialTimeoutOption(): Option {
  return new Option(
    '--trial-timeout <seconds>',
    'reboot a trial boot not committed within this time',
  )
    .argParser(positiveNumber)
    .default(300);
}

function heartbeatOption(): Option {
  return new Option('--heartbeat <ms>', 'WatchStatus interval when nothing changes')
    .argParser(positiveNumber)
    .default(2000);
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
  .addOption(trialTimeoutOption())
  .addOption(heartbeatOption())
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
  .option(
    '--revocation-period <duration>',
    'how often the revocation lists are fetched (and, on a CA holder, revocations decided)',
    durationFlag,
    10_000,
  )
  .option(
    '--insecure-bootstrap',
    'development only: while unowned and without bootstrap.ownerPublicKeys in the node parameters, let anyone bootstrap (and become the owner of) a new cluster',
  )
  .addOption(
    new Option(
      '--test-halt-file <path>',
      'tests only: halt after the bootstrap or join step this file names (it is consumed)',
    ).hideHelp(),
  )
  .option(
    '--download-connect-timeout <seconds>',
    'StageUpdate: fail a bundle download not connected within this time',
    positiveNumber,
    defaultDownloadLimits.connectTimeoutMs / 1000,
  )
  .option(
    '--download-idle-timeout <seconds>',
    'StageUpdate: fail a bundle download that receives nothing for this long',
    positiveNumber,
    defaultDownloadLimits.idleTimeoutMs / 1000,
  )
  .option(
    '--download-total-timeout <seconds>',
    'StageUpdate: fail a bundle download not verified within this time',
    positiveNumber,
    defaultDownloadLimits.totalTimeoutMs / 1000,
  )
  .option(
    '--certificate-lifetime <duration>',
    'CA holder: validity of the node and role certificates it issues (e.g. 720h); renewed at 2/3',
    durationFlag,
    defaultLifetimes.leafMs,
  )
  .option(
    '--owner-certificate-lifetime <duration>',
    'CA holder: validity of the owner certificates it issues (e.g. 8760h)',
    durationFlag,
    defaultLifetimes.ownerMs,
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

interface HollowFleetCommandOptions {
  count: number;
  firstAddress: string;
  dir: string;
  rebootTime: number;
  systemImage: string;
  loader: string;
  parameters: string;
  trialTimeout: number;
  heartbeat: number;
  slotSize: number;
  bootConcurrency: number;
}

/** Runs hollow nodes until SIGTERM or SIGINT; the hardware is simulated, the agent is not. */
async function hollowFleet(options: HollowFleetCommandOptions): Promise<void> {
  // Loaded only here, so a real node's agent does not load the fleet and the emulator's code.
  const { HollowFleet } = await import('./hollow/hollow-fleet.js');
  const log = createLogger({ format: 'json', fields: { service: 'hollow-fleet' } });
  const stopped = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => {
      resolve('SIGTERM');
    });
    process.once('SIGINT', () => {
      resolve('SIGINT');
    });
  });
  const fleet = await HollowFleet.start({
    count: options.count,
    firstAddress: options.firstAddress,
    dir: options.dir,
    install: { systemImage: options.systemImage, loader: options.loader },
    parameters: await readFile(options.parameters, 'utf8'),
    bootConcurrency: options.bootConcurrency,
    logTo: process.stdout,
    node: {
      rebootTimeMs: options.rebootTime,
      slotSize: options.slotSize,
      managementPort: nodeManagementPort,
      shutdownGraceMs,
      settings: {
        trialTimeoutSeconds: options.trialTimeout,
        heartbeatMs: options.heartbeat,
        flavour: 'process',
        architecture: hostArchitecture(),
        // Hollow nodes run no role services: roles stay recorded but never serve.
        binaries: {},
        crdsDir: '',
        heartbeatTimeoutSeconds: 10,
      },
    },
  });
  log.info('hollow fleet running', {
    count: fleet.nodes.length,
    firstAddress: options.firstAddress,
  });
  log.info('hollow fleet stopping', { signal: await stopped });
  await Promise.race([fleet.shutdown(), setTimeout(shutdownGraceMs)]);
  process.exit(0);
}

function durationFlag(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new InvalidArgumentError('not a duration (e.g. 2s, 500ms)');
  return ms;
}

program
  .command('hollow-fleet')
  .description(
    'Run N hollow nodes in this process: the real agent over in-memory EFI variables, slots in a node directory and a simulated reboot (docs/hollow-nodes.md).',
  )
  .requiredOption('--count <n>', 'how many nodes', positiveNumber)
  .requiredOption('--dir <dir>', 'node directories (put it on a tmpfs)')
  .requiredOption('--system-image <file>', 'system image installed into slot A of every node')
  .requiredOption('--loader <file>', 'loader installed on every ESP')
  .requiredOption('--parameters <file>', 'node parameters (release keys, join) for every ESP')
  .option('--first-address <ip>', "node 0's address; node i listens on it + i", '127.1.0.1')
  .option('--reboot-time <duration>', 'how long a reboot keeps a node down', durationFlag, 2000)
  .addOption(trialTimeoutOption())
  .addOption(heartbeatOption())
  .option('--slot-size <bytes>', 'bytes of each slot file', positiveNumber, 16 * 1024 * 1024)
  .option('--boot-concurrency <n>', 'nodes booting at the same time at start', positiveNumber, 8)
  .action(async (options: HollowFleetCommandOptions) => {
    try {
      await hollowFleet(options);
    } catch (error) {
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

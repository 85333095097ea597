// One boot of the node agent on a machine: slots, staging, status, health, the management API,
// joining and the roles, built over the hardware it is given (real, or a hollow node's).
import type { NodeLayout } from '@metropolis/api';
import type { ReleaseInfo } from '@metropolis/bundle';
import type { BootVariables } from '@metropolis/efi';
import { errorMessage } from '@metropolis/errors';
import type { LogRing, Logger } from '@metropolis/logging';
import { Supervisor } from '@metropolis/supervisor';
import type { OwnerPolicy } from '../cluster/bootstrap-server.js';
import { ClusterNode } from '../cluster/cluster-node.js';
import { RevocationLists } from '../cluster/revocation-lists.js';
import { settleOwnership } from '../cluster/ownership.js';
import { noHalt, type HaltPoint } from '../cluster/test-halt.js';
import type { RoleBinaries } from '../cluster/node-roles.js';
import { HealthBook } from '../health/health-book.js';
import { NodeChecks } from '../health/node-checks.js';
import type { NodeIdentity } from '../identity/node-identity.js';
import { defaultLifetimes, type CertificateLifetimes } from '../cluster/certificate-lifetimes.js';
import { managementService } from '../rpc/management-service.js';
import { ServingIdentity } from '../rpc/serving-identity.js';
import { startManagementServer, type RunningServer } from '../rpc/management-server.js';
import { SlotManager, type EspPartition } from '../slots/slot-manager.js';
import type { Slot } from '../slots/slot.js';
import { TrialWatchdog } from '../slots/trial-watchdog.js';
import { StatusService } from '../status/status-service.js';
import {
  dropRegisterTicket,
  readJoinParameters,
  readManagementCertificates,
  readOwnerKeys,
  readTrustedKeys,
} from '../storage/node-files.js';
import type { BundleFetch } from '../update/http-fetch.js';
import { EpochGuard } from '../update/epoch-guard.js';
import { Stager, type DownloadLimits } from '../update/stager.js';

/** The machine under the agent: what a real node's firmware and kernel give it. */
export interface AgentMachine {
  readonly layout: NodeLayout;
  readonly variables: BootVariables;
  readonly esp: EspPartition;
  /** The slot this boot started from (the kernel command line's). */
  readonly runningSlot: Slot;
  readonly bootTimeMs: number;
  /** Reboots the machine: the agent asked for it (Reboot, the trial watchdog). */
  readonly reboot: (reason: string) => void;
  /** The agent cannot go on; the machine restarts it (panic=reboot). */
  readonly fail: (reason: string) => void;
}

export interface AgentSettings {
  /** host:port of the management API. */
  readonly listen: string;
  /** The address reported in the node status and registered with the cluster. */
  readonly address: string;
  readonly trialTimeoutSeconds: number;
  readonly heartbeatMs: number;
  readonly flavour: 'process' | 'vm';
  readonly architecture: 'x86_64' | 'aarch64';
  readonly binaries: Partial<RoleBinaries>;
  readonly crdsDir: string;
  readonly heartbeatTimeoutSeconds: number;
  /** How often the revocation lists are fetched (and looked after, on a CA holder). @default 10_000 */
  readonly revocationPeriodMs?: number;
  /**
   * Let any caller bootstrap this node while its parameters list no owner key (development
   * only; logged at every start). @default false
   */
  readonly insecureBootstrap?: boolean;
  /**
   * How long the node and role certificates (leaf) and the owner certificate are valid when
   * this node holds the CA. @default defaultLifetimes (30 days, 1 year)
   */
  readonly certificateLifetimes?: CertificateLifetimes;
  /** Bounds of a bundle download; unset ones take the documented defaults. */
  readonly download?: Partial<DownloadLimits>;
}

export interface AgentDeps {
  readonly machine: AgentMachine;
  readonly settings: AgentSettings;
  readonly release: ReleaseInfo;
  readonly identity: NodeIdentity;
  readonly log: Logger;
  /** The records `Logs` serves. */
  readonly ring: LogRing;
  /** How StageUpdate downloads: httpFetch in the agent; the global fetch works too, more slowly. */
  readonly fetch: BundleFetch;
  /** Test-only fault points in bootstrap and join (--test-halt-file). @default noHalt */
  readonly halt?: HaltPoint;
}

/** A started agent; `stop()` ends this boot (services stop, the API closes). */
export interface RunningAgent {
  stop(): Promise<void>;
  /** Resolves once every supervised service has stopped. */
  done(): Promise<void>;
  /** When the management API began to serve (wall clock, ms); undefined while it does not. */
  servingSinceMs(): number | undefined;
}

export async function startAgent(deps: AgentDeps): Promise<RunningAgent> {
  const { machine, settings, release, identity, log, ring } = deps;
  const { layout, runningSlot, bootTimeMs } = machine;
  log.info('node agent starting', { slot: runningSlot });
  if (settings.insecureBootstrap === true) {
    log.warn(
      'INSECURE: --insecure-bootstrap: while unowned and without bootstrap.ownerPublicKeys in its parameters, this node lets anyone who reaches it first become the owner of a new cluster',
    );
  }
  const halt = deps.halt ?? noHalt;

  const controller = new AbortController();
  let server: RunningServer | undefined;
  /** The management API's certificate: the node certificate, renewed while it serves. */
  let serving: ServingIdentity | undefined;
  let servingSinceMs: number | undefined;
  const supervisor = new Supervisor(controller.signal, { log });
  const stop = async (): Promise<void> => {
    controller.abort();
    await Promise.all([server?.stop(), supervisor.done()]);
  };

  const slots = new SlotManager({
    variables: machine.variables,
    layout,
    esp: machine.esp,
    runningSlot,
  });
  const ensured = await slots.ensureBootEntries();
  log.info('boot entries ensured', {
    created: ensured.created,
    addedToOrder: ensured.addedToOrder,
  });

  const epochs = new EpochGuard({
    path: layout.securityEpochs,
    runningSlot,
    runningEpoch: release.securityEpoch,
  });
  const stager = new Stager({
    slots,
    layout,
    trust: () => readTrustedKeys(layout),
    epochs,
    flavour: settings.flavour,
    architecture: settings.architecture,
    fetch: deps.fetch,
    ...(settings.download === undefined ? {} : { download: settings.download }),
  });
  await stager.clearStaging();
  if ((await readTrustedKeys(layout)).development) {
    log.warn('development node: bundles signed with the public development key are accepted');
  }

  const watchdog = new TrialWatchdog({
    slots,
    bootTimeMs,
    timeoutMs: settings.trialTimeoutSeconds * 1000,
    reboot: machine.reboot,
  });
  const boot = await slots.state();
  // A committed boot (not a trial) carries its release's epoch into the record: it only rises.
  if (!boot.trial) await epochs.noteCommittedBoot();
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
    address: settings.address,
  });

  supervisor.run('trial-watchdog', (signal) => watchdog.run(signal));
  await nodeChecks.check();
  supervisor.run('node-checks', (signal) => nodeChecks.run(signal));

  const address = settings.address;
  const revocation = new RevocationLists({ layout, log: log.child({ component: 'revocation' }) });
  await revocation.load();
  const cluster = new ClusterNode({
    layout,
    identity,
    address,
    binaries: settings.binaries,
    kubeApiserverArgs: release.kubeApiserverArgs,
    crdsDir: settings.crdsDir,
    supervisor,
    signal: controller.signal,
    heartbeatTimeoutSeconds: settings.heartbeatTimeoutSeconds,
    log: log.child({ component: 'cluster' }),
    onRolesChanged: () => {
      status.changed();
    },
    reportRoleHealth: (checks) => {
      health.record('roles', checks);
    },
    lifetimes: settings.certificateLifetimes ?? defaultLifetimes,
    onNodeCertificate: (certificatePem) => {
      serving?.update(certificatePem);
      log.info('management API serves the renewed node certificate');
    },
    revocation,
    revocationPeriodMs: settings.revocationPeriodMs ?? 10_000,
    halt,
  });
  const serveManagement = async (): Promise<void> => {
    const certificates = await readManagementCertificates(layout);
    if (certificates === undefined) throw new Error('owned node without certificates');
    serving = new ServingIdentity({
      clientCaPem: certificates.caPem,
      requireClientCertificate: true,
      certificatePem: certificates.certificatePem,
      keyPem: await identity.keyPair.privateKeyPem(),
    });
    server = await startManagementServer(
      settings.listen,
      serving,
      managementService({
        slots,
        stager,
        epochs,
        status,
        logs: ring,
        log: log.child({ component: 'management' }),
        trialDeadlineMs: () => watchdog.deadlineMs,
        reboot: machine.reboot,
        bootTimeMs,
        applyRoles: (roles, options) => cluster.applyRoles(roles, options),
        checkConsensus: () => cluster.checkConsensus(),
        heartbeatMs: settings.heartbeatMs,
        stopping: controller.signal,
        revoked: (serial) => revocation.revoked(serial),
      }),
    );
    servingSinceMs = Date.now();
    log.info('management API serving', { listen: settings.listen, port: server.port });
  };
  const joinParameters = await readJoinParameters(layout);
  if (await settleOwnership(layout, identity, log)) {
    // A join cut off between its marker and the parameters' rewrite left the ticket there.
    if (await dropRegisterTicket(layout)) log.info('register ticket removed from the parameters');
    await serveManagement();
    cluster.resume().catch((error: unknown) => {
      log.error('control plane failed to start', { error: errorMessage(error) });
    });
  } else if (joinParameters?.registerTicket === undefined && joinParameters !== undefined) {
    log.error(
      'cannot join: the node parameters have no register ticket (a joined node drops it); add the current one (metroctl cluster register-ticket)',
    );
  } else if (joinParameters !== undefined) {
    log.info('joining a cluster', { endpoints: joinParameters.endpoints });
    // What a node does once in its life (join, or bootstrap below) is loaded only then.
    const { joinCluster } = await import('../cluster/join.js');
    joinCluster(
      {
        parameters: joinParameters,
        identity,
        address,
        layout,
        log: log.child({ component: 'join' }),
        halt,
      },
      controller.signal,
    )
      .then(async () => {
        // A stop while joining ends this boot: nothing more to serve.
        if (controller.signal.aborted) return;
        await serveManagement();
        await cluster.resume();
      })
      .catch((error: unknown) => {
        log.error('joining failed', { error: errorMessage(error) });
        machine.fail(`joining failed: ${errorMessage(error)}`);
      });
  } else {
    // A malformed owner list serves nothing (and says so) rather than failing every boot.
    const ownerKeys = await readOwnerKeys(layout).catch((error: unknown) => {
      log.error('node not owned, and serving no bootstrap: unusable owner keys', {
        error: errorMessage(error),
      });
      return null;
    });
    if (ownerKeys === null) {
      return { stop, done: () => supervisor.done(), servingSinceMs: () => servingSinceMs };
    }
    if (ownerKeys === undefined && settings.insecureBootstrap !== true) {
      log.warn(
        'node not owned, and serving no bootstrap: its parameters list no owner key (bootstrap.ownerPublicKeys) and --insecure-bootstrap is not set',
      );
      return { stop, done: () => supervisor.done(), servingSinceMs: () => servingSinceMs };
    }
    const owners: OwnerPolicy =
      ownerKeys === undefined ? { kind: 'insecure' } : { kind: 'listed', keys: ownerKeys };
    log.info('node not owned: serving the bootstrap endpoint', {
      listen: settings.listen,
      owners: owners.kind === 'listed' ? owners.keys.length : 'anyone (insecure)',
    });
    const { startBootstrapServer } = await import('../cluster/bootstrap-server.js');
    const bootstrap = await startBootstrapServer(
      settings.listen,
      identity,
      address,
      owners,
      cluster,
      log,
      () => {
        // The management API takes over the port once the node is owned.
        void bootstrap
          .stop()
          .then(serveManagement)
          .catch((error: unknown) => {
            log.error('management API failed to start', { error: errorMessage(error) });
            machine.fail(`management API failed to start: ${errorMessage(error)}`);
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
  return { stop, done: () => supervisor.done(), servingSinceMs: () => servingSinceMs };
}

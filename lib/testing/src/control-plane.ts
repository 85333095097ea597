// A real Kubernetes control plane for tests, like controller-runtime's envtest: one etcd and
// one kube-apiserver on free loopback ports, with fresh certificates, torn down without a trace.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  etcdArgs,
  kubeApiserverArgs,
  kubeApiserverHosts,
  kubeconfig,
  readyz,
  type ClientCredentials,
} from '@metropolis/control-plane';
import { CertificateAuthority, KeyPair } from '@metropolis/pki';
import { ManagedProcess } from '@metropolis/process';
import type { ControlPlaneBinaries } from './binaries.js';
import { TestingError } from './errors.js';
import { freePort } from './free-port.js';

export interface ControlPlaneOptions {
  readonly binaries: ControlPlaneBinaries;
  /** @default 60_000 */
  readonly startTimeoutMs?: number;
  /** Extra kube-apiserver flags, e.g. `--feature-gates=...`. */
  readonly apiserverArgs?: readonly string[];
  /** Cluster, user and context name in the kubeconfig. @default 'harness' */
  readonly contextName?: string;
}

const host = '127.0.0.1';
const serviceRange = '10.0.0.0/24';

/** A running etcd + kube-apiserver. Always {@link ControlPlane.stop} it, e.g. in `t.teardown`. */
export class ControlPlane {
  /** `https://127.0.0.1:PORT` */
  readonly server: string;
  /** The cluster CA; tests may issue more certificates with it. */
  readonly ca: CertificateAuthority;
  /** A system:masters client certificate. */
  readonly admin: ClientCredentials;
  /** Path of a kubeconfig file for the admin (context {@link ControlPlaneOptions.contextName}). */
  readonly kubeconfigPath: string;
  /** The etcd client URL (TLS; the admin credentials are accepted). */
  readonly etcdEndpoint: string;
  /** Milliseconds from start() until /readyz answered ok. */
  readonly startupMs: number;
  #dir: string;
  #processes: readonly ManagedProcess[];
  #onExit: () => void;
  #stopped = false;

  private constructor(fields: {
    server: string;
    ca: CertificateAuthority;
    admin: ClientCredentials;
    kubeconfigPath: string;
    etcdEndpoint: string;
    startupMs: number;
    dir: string;
    processes: readonly ManagedProcess[];
    onExit: () => void;
  }) {
    this.server = fields.server;
    this.ca = fields.ca;
    this.admin = fields.admin;
    this.kubeconfigPath = fields.kubeconfigPath;
    this.etcdEndpoint = fields.etcdEndpoint;
    this.startupMs = fields.startupMs;
    this.#dir = fields.dir;
    this.#processes = fields.processes;
    this.#onExit = fields.onExit;
  }

  /** Starts etcd and kube-apiserver and resolves once /readyz answers `ok`. */
  static async start(options: ControlPlaneOptions): Promise<ControlPlane> {
    const began = performance.now();
    const dir = await mkdtemp(join(tmpdir(), 'metropolis-control-plane-'));
    const processes: ManagedProcess[] = [];
    // Runs even when a test throws past its teardown or the process exits early.
    const onExit = (): void => {
      for (const child of processes) child.killNow();
      rmSync(dir, { recursive: true, force: true });
    };
    process.once('exit', onExit);
    try {
      const { paths: files, ca, admin } = await writeCertificates(dir);
      const [etcdPort, peerPort, apiPort] = await Promise.all([freePort(), freePort(), freePort()]);
      const etcdEndpoint = `https://${host}:${String(etcdPort)}`;
      const peerUrl = `https://${host}:${String(peerPort)}`;
      const etcdTls = { ca: files.ca, cert: files.etcdCert, key: files.etcdKey };
      processes.push(
        await ManagedProcess.start({
          command: options.binaries.etcd,
          logFile: join(dir, 'etcd.log'),
          args: etcdArgs({
            name: 'harness',
            dataDir: join(dir, 'etcd'),
            clientUrls: [etcdEndpoint],
            advertiseClientUrls: [etcdEndpoint],
            peerUrls: [peerUrl],
            advertisePeerUrls: [peerUrl],
            initialCluster: `harness=${peerUrl}`,
            initialClusterState: 'new',
            tls: etcdTls,
            // A throwaway test store: durability buys nothing and fsync costs seconds.
            unsafeNoFsync: true,
          }),
        }),
      );
      processes.push(
        await ManagedProcess.start({
          command: options.binaries.kubeApiserver,
          logFile: join(dir, 'kube-apiserver.log'),
          args: kubeApiserverArgs({
            etcdServers: [etcdEndpoint],
            etcdTls: { ca: files.ca, cert: files.adminCert, key: files.adminKey },
            bindAddress: host,
            advertiseAddress: host,
            securePort: apiPort,
            certDir: join(dir, 'apiserver-certs'),
            servingTls: { ca: files.ca, cert: files.apiserverCert, key: files.apiserverKey },
            serviceClusterIpRange: serviceRange,
            serviceAccountIssuer: 'https://kubernetes.default.svc',
            serviceAccountPublicKey: files.serviceAccountPublic,
            serviceAccountSigningKey: files.serviceAccountKey,
            // As envtest: no controller-manager creates default service accounts here.
            disableAdmissionPlugins: ['ServiceAccount'],
            extraArgs: options.apiserverArgs ?? [],
          }),
        }),
      );
      const server = `https://${host}:${String(apiPort)}`;
      await waitReady(server, admin, processes, dir, options.startTimeoutMs ?? 60_000);
      const kubeconfigPath = join(dir, 'kubeconfig');
      await writeFile(kubeconfigPath, kubeconfig(server, admin, options.contextName), {
        mode: 0o600,
      });
      return new ControlPlane({
        server,
        ca,
        admin,
        kubeconfigPath,
        etcdEndpoint,
        startupMs: Math.round(performance.now() - began),
        dir,
        processes,
        onExit,
      });
    } catch (error) {
      await Promise.all(processes.map((child) => child.stop(2_000)));
      process.removeListener('exit', onExit);
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** The kubeconfig as YAML text. */
  async kubeconfig(): Promise<string> {
    return readFile(this.kubeconfigPath, 'utf8');
  }

  /** Stops kube-apiserver, then etcd, and removes every file. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const child of [...this.#processes].reverse()) await child.stop();
    process.removeListener('exit', this.#onExit);
    await rm(this.#dir, { recursive: true, force: true });
  }
}

async function writeCertificates(dir: string) {
  const ca = await CertificateAuthority.create({ commonName: 'harness-ca' });
  const loopback = ['127.0.0.1', 'localhost'];
  const [etcd, apiserver, admin] = await Promise.all([
    ca.issue({ commonName: 'etcd', usages: ['server', 'client'], hosts: loopback }),
    ca.issue({
      commonName: 'kube-apiserver',
      usages: ['server'],
      hosts: kubeApiserverHosts(loopback, '10.0.0.1'),
    }),
    ca.issue({ commonName: 'admin', organizations: ['system:masters'], usages: ['client'] }),
  ]);
  // kube-apiserver signs service-account JWTs with RSA or ECDSA only: no Ed25519 here.
  const serviceAccount = await KeyPair.generate('ecdsa-p256');
  const pems = {
    ca: ca.certificatePem,
    etcdCert: etcd.certificatePem,
    etcdKey: await etcd.keyPair.privateKeyPem(),
    apiserverCert: apiserver.certificatePem,
    apiserverKey: await apiserver.keyPair.privateKeyPem(),
    adminCert: admin.certificatePem,
    adminKey: await admin.keyPair.privateKeyPem(),
    serviceAccountKey: await serviceAccount.privateKeyPem(),
    serviceAccountPublic: await serviceAccount.publicKeyPem(),
  };
  const paths = Object.fromEntries(
    Object.keys(pems).map((name) => [name, join(dir, `${name}.pem`)]),
  ) as Record<keyof typeof pems, string>;
  await Promise.all(
    Object.entries(pems).map(([name, pem]) =>
      writeFile(join(dir, `${name}.pem`), pem, { mode: 0o600 }),
    ),
  );
  const adminCredentials: ClientCredentials = {
    caPem: pems.ca,
    certificatePem: pems.adminCert,
    keyPem: pems.adminKey,
  };
  return { paths, ca, admin: adminCredentials };
}

async function waitReady(
  server: string,
  credentials: ClientCredentials,
  processes: readonly ManagedProcess[],
  dir: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = 'no answer yet';
  while (performance.now() < deadline) {
    const dead = processes.find((child) => child.exit !== undefined);
    if (dead) {
      throw new TestingError(
        'CONTROL_PLANE_EXITED',
        `a control-plane process exited during start-up: ${await logTails(dir)}`,
      );
    }
    last = await readyz(server, credentials).catch((error: unknown) => String(error));
    if (last === 'ok') return;
    await sleep(100);
  }
  throw new TestingError(
    'CONTROL_PLANE_START_TIMEOUT',
    `kube-apiserver not ready after ${String(timeoutMs)} ms (last /readyz: ${last}): ${await logTails(dir)}`,
  );
}

async function logTails(dir: string): Promise<string> {
  const tails = await Promise.all(
    ['etcd.log', 'kube-apiserver.log'].map(async (name) => {
      const text = await readFile(join(dir, name), 'utf8').catch(() => '');
      return `--- ${name} ---\n${text.split('\n').slice(-15).join('\n')}`;
    }),
  );
  return tails.join('\n');
}

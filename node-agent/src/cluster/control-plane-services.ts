// The control plane on this node: etcd (one member for now), kube-apiserver on it, and the
// operator, each a supervised process restarted with backoff when it exits.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { controlPlanePorts } from '@metropolis/api';
import { etcdArgs, kubeApiserverArgs, kubeconfig, readyz } from '@metropolis/control-plane';
import type { Logger } from '@metropolis/logging';
import { ManagedProcess } from '@metropolis/process';
import { sleep, type Supervisor } from '@metropolis/supervisor';
import { AgentError } from '../errors.js';
import type { NodeLayout } from '../storage/layout.js';
import { serviceRange, type ControlPlaneFiles } from './cluster-pki.js';

export interface ControlPlaneBinaryPaths {
  readonly etcd: string;
  readonly kubeApiserver: string;
  /** The operator program (an ES module run by node); undefined if this image has none. */
  readonly operator: string | undefined;
}

export interface ControlPlaneServicesDeps {
  readonly layout: NodeLayout;
  readonly binaries: ControlPlaneBinaryPaths;
  readonly files: ControlPlaneFiles;
  readonly nodeId: string;
  readonly address: string;
  readonly supervisor: Supervisor;
  readonly log: Logger;
}

export class ControlPlaneServices {
  #deps: ControlPlaneServicesDeps;

  constructor(deps: ControlPlaneServicesDeps) {
    this.#deps = deps;
  }

  get apiserverUrl(): string {
    return `https://${this.#deps.address}:${String(controlPlanePorts.kubeApiserver)}`;
  }

  /** Starts etcd and kube-apiserver and resolves once /readyz answers ok. */
  async start(signal: AbortSignal): Promise<void> {
    const { layout, files, nodeId, address, supervisor, binaries } = this.#deps;
    await mkdir(layout.controlPlaneRun, { recursive: true });
    await mkdir(layout.etcdData, { recursive: true, mode: 0o700 });
    const client = `https://${address}:${String(controlPlanePorts.etcdClient)}`;
    const local = `https://127.0.0.1:${String(controlPlanePorts.etcdClient)}`;
    const peer = `https://${address}:${String(controlPlanePorts.etcdPeer)}`;
    const tls = { ca: files.ca, cert: files.etcdCert, key: files.etcdKey };
    supervisor.run(
      'etcd',
      this.#process(binaries.etcd, 'etcd', [
        ...etcdArgs({
          name: nodeId,
          dataDir: layout.etcdData,
          clientUrls: [client, local],
          advertiseClientUrls: [client],
          peerUrls: [peer],
          advertisePeerUrls: [peer],
          initialCluster: `${nodeId}=${peer}`,
          initialClusterState: 'new',
          tls,
        }),
      ]),
    );
    supervisor.run(
      'kube-apiserver',
      this.#process(
        binaries.kubeApiserver,
        'kube-apiserver',
        kubeApiserverArgs({
          etcdServers: [local],
          etcdTls: { ca: files.ca, cert: files.apiserverEtcdCert, key: files.apiserverEtcdKey },
          bindAddress: '0.0.0.0',
          advertiseAddress: address,
          securePort: controlPlanePorts.kubeApiserver,
          certDir: join(layout.controlPlaneRun, 'apiserver-certs'),
          servingTls: { ca: files.ca, cert: files.apiserverCert, key: files.apiserverKey },
          serviceClusterIpRange: serviceRange,
          serviceAccountIssuer: 'https://kubernetes.default.svc',
          serviceAccountPublicKey: files.serviceAccountPublic,
          serviceAccountSigningKey: files.serviceAccountKey,
          // No controller-manager creates service accounts yet (the worker issue adds it).
          disableAdmissionPlugins: ['ServiceAccount'],
        }),
      ),
    );
    const deadline = Date.now() + 120_000;
    let last = '';
    while (Date.now() < deadline && !signal.aborted) {
      last = await readyz(this.apiserverUrl, files.admin).catch((error: unknown) => String(error));
      if (last === 'ok') return;
      await sleep(250, signal);
    }
    throw new AgentError('AGENT_CONTROL_PLANE', `kube-apiserver not ready after 120 s: ${last}`);
  }

  /** Starts the operator with its own client certificate and kubeconfig. */
  async startOperator(heartbeatTimeoutSeconds: number): Promise<boolean> {
    const { layout, files, binaries, supervisor, nodeId, log } = this.#deps;
    if (binaries.operator === undefined) {
      log.warn('no operator in this system image: MonogonNode resources are not reconciled');
      return false;
    }
    const config = join(layout.controlPlanePki, 'operator.kubeconfig');
    await writeFile(
      config,
      kubeconfig(
        `https://127.0.0.1:${String(controlPlanePorts.kubeApiserver)}`,
        {
          caPem: files.admin.caPem,
          certificatePem: await readFile(files.operatorCert, 'utf8'),
          keyPem: await readFile(files.operatorKey, 'utf8'),
        },
        'metropolis',
      ),
      { mode: 0o600 },
    );
    supervisor.run(
      'operator',
      this.#process(process.execPath, 'operator', [
        binaries.operator,
        '--kubeconfig',
        config,
        '--tls-ca',
        files.ca,
        '--tls-cert',
        files.operatorCert,
        '--tls-key',
        files.operatorKey,
        '--identity',
        nodeId,
        '--heartbeat-timeout',
        `${String(heartbeatTimeoutSeconds)}s`,
      ]),
    );
    return true;
  }

  /** A runnable that runs one service until it exits (then it is restarted) or is aborted. */
  #process(command: string, name: string, args: readonly string[]) {
    const { layout, log } = this.#deps;
    return async (signal: AbortSignal): Promise<void> => {
      const child = await ManagedProcess.start({
        command,
        args,
        logFile: join(layout.controlPlaneRun, `${name}.log`),
      });
      log.info('service started', { service: name, pid: child.pid });
      const stop = (): void => {
        void child.stop();
      };
      signal.addEventListener('abort', stop, { once: true });
      const exit = await child.exited;
      signal.removeEventListener('abort', stop);
      if (!signal.aborted) {
        throw new AgentError(
          'AGENT_CONTROL_PLANE',
          `${name} exited (code ${String(exit.code)}, signal ${String(exit.signal)}); see ${name}.log`,
        );
      }
    };
  }
}

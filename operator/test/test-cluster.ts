// A real kube-apiserver (lib/testing's harness) with the CRDs from crds/, the
// operator's namespace, and operators built as main.ts builds them, with test settings.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ApiException,
  ApiextensionsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  KubeConfig,
  PatchStrategy,
  loadYaml,
  setHeaderOptions,
  type EventsV1Event,
  type V1CustomResourceDefinition,
  type V1Lease,
} from '@kubernetes/client-node';
import {
  certificateRoles,
  monogonNodeApiVersion,
  monogonNodeCrdName,
  monogonNodeKind,
  monogonNodeResource,
  osUpdateApiVersion,
  osUpdateCrdName,
  osUpdateKind,
  osUpdateResource,
  systemNamespace,
  type MonogonNode,
  type OSUpdate,
  type OSUpdateSpec,
  type MonogonNodeSpec,
  type MonogonNodeStatus,
} from '@metropolis/api';
import { createLogger, silentLogger, type Logger } from '@metropolis/logging';
import { ControlPlane, controlPlaneBinariesFrom, eventuallyDefined } from '@metropolis/testing';
import { OperatorMetrics } from '../src/metrics/operator-metrics.js';
import { GrpcNodeAgentDialer } from '../src/node-client/node-agent-client.js';
import { Operator, type OperatorOptions } from '../src/operator.js';
import type { Teardown } from './test-node.js';

const crdDir = join(import.meta.dirname, '..', '..', 'crds');
export const leaseName = 'metropolis-operator';

/** A running operator instance in this process. */
export interface RunningOperator {
  readonly identity: string;
  readonly metrics: OperatorMetrics;
  /** Settles when the operator stops: resolves after stop(), rejects when it fails. */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

export class TestCluster {
  readonly controlPlane: ControlPlane;
  readonly kubeConfig: KubeConfig;
  readonly #objects: CustomObjectsApi;

  private constructor(controlPlane: ControlPlane, kubeConfig: KubeConfig) {
    this.controlPlane = controlPlane;
    this.kubeConfig = kubeConfig;
    this.#objects = kubeConfig.makeApiClient(CustomObjectsApi);
  }

  /** Starts etcd and kube-apiserver, installs the CRDs and creates monogon-system. */
  static async start(t: Teardown): Promise<TestCluster> {
    const controlPlane = await ControlPlane.start({
      binaries: controlPlaneBinariesFrom(process.env),
    });
    t.teardown(() => controlPlane.stop());
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(await controlPlane.kubeconfig());
    const cluster = new TestCluster(controlPlane, kubeConfig);
    await cluster.#installCrd('monogon-node.yaml', monogonNodeCrdName, monogonNodeResource);
    await cluster.#installCrd('os-update.yaml', osUpdateCrdName, osUpdateResource);
    await kubeConfig
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: systemNamespace } } });
    return cluster;
  }

  async #installCrd(
    file: string,
    name: string,
    served: { group: string; version: string; plural: string },
  ): Promise<void> {
    const crd = loadYaml<V1CustomResourceDefinition>(await readFile(join(crdDir, file), 'utf8'));
    const api = this.kubeConfig.makeApiClient(ApiextensionsV1Api);
    await api.createCustomResourceDefinition({ body: crd });
    await eventuallyDefined(`${name} is served`, 20_000, async () => {
      const current = await api.readCustomResourceDefinition({ name });
      const established = current.status?.conditions?.find((c) => c.type === 'Established');
      if (established?.status !== 'True') return undefined;
      // Established comes a moment before the storage answers.
      return this.#objects.listClusterCustomObject(served).then(
        () => true,
        () => undefined,
      );
    });
  }

  /** Creates a MonogonNode, then sets status as registration would (address, state). */
  async createNode(name: string, spec: MonogonNodeSpec, status: MonogonNodeStatus): Promise<void> {
    const created = (await this.#objects.createClusterCustomObject({
      ...monogonNodeResource,
      body: { apiVersion: monogonNodeApiVersion, kind: monogonNodeKind, metadata: { name }, spec },
    })) as MonogonNode;
    await this.#objects.replaceClusterCustomObjectStatus({
      ...monogonNodeResource,
      name,
      body: { ...created, status },
    });
  }

  async node(name: string): Promise<MonogonNode> {
    return (await this.#objects.getClusterCustomObject({
      ...monogonNodeResource,
      name,
    })) as MonogonNode;
  }

  async patchSpec(name: string, spec: MonogonNodeSpec): Promise<void> {
    await this.#objects.patchClusterCustomObject(
      { ...monogonNodeResource, name, body: { spec } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  async deleteNode(name: string): Promise<void> {
    await this.#objects.deleteClusterCustomObject({ ...monogonNodeResource, name });
  }

  /** Creates an OSUpdate, as `metroctl update apply` would. */
  async createOSUpdate(name: string, spec: OSUpdateSpec): Promise<void> {
    await this.#objects.createClusterCustomObject({
      ...osUpdateResource,
      body: { apiVersion: osUpdateApiVersion, kind: osUpdateKind, metadata: { name }, spec },
    });
  }

  async osUpdate(name: string): Promise<OSUpdate> {
    return (await this.#objects.getClusterCustomObject({ ...osUpdateResource, name })) as OSUpdate;
  }

  async deleteOSUpdate(name: string): Promise<void> {
    await this.#objects.deleteClusterCustomObject({ ...osUpdateResource, name });
  }

  /** Events about a node, oldest first. */
  async events(name: string): Promise<EventsV1Event[]> {
    const list = await this.kubeConfig
      .makeApiClient(EventsV1Api)
      .listNamespacedEvent({ namespace: 'default' });
    return list.items.filter((event) => event.regarding?.name === name);
  }

  /** A node's heartbeat Lease (same name, in the operator's namespace); undefined: none. */
  async nodeLease(name: string): Promise<V1Lease | undefined> {
    try {
      return await this.kubeConfig
        .makeApiClient(CoordinationV1Api)
        .readNamespacedLease({ name, namespace: systemNamespace });
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return undefined;
      throw error;
    }
  }

  async lease(): Promise<V1Lease> {
    return this.kubeConfig
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ name: leaseName, namespace: systemNamespace });
  }

  /**
   * Starts an operator as main.ts does (same classes, same wiring) with short timings and an
   * operator certificate from the cluster CA. Stopped in teardown, before the control plane.
   */
  async startOperator(
    t: Teardown,
    identity: string,
    overrides: Partial<OperatorOptions> = {},
  ): Promise<RunningOperator> {
    const issued = await this.controlPlane.ca.issue({
      commonName: 'operator',
      organizations: [certificateRoles.operator],
      usages: ['client'],
    });
    const metrics = new OperatorMetrics();
    const operator = new Operator({
      kubeConfig: this.kubeConfig,
      dialer: new GrpcNodeAgentDialer({
        caPem: this.controlPlane.ca.certificatePem,
        certificatePem: issued.certificatePem,
        keyPem: await issued.keyPair.privateKeyPem(),
      }),
      logger: testLogger(identity),
      metrics,
      identity,
      lease: {
        namespace: systemNamespace,
        name: leaseName,
        durationMs: 3_000,
        renewDeadlineMs: 2_000,
        retryPeriodMs: 250,
      },
      heartbeatTimeoutMs: 2_000,
      statusRefreshMs: 1_000,
      nodeLeaseRenewMs: 1_000,
      reconnectBackoff: { minMs: 100, maxMs: 500 },
      ...overrides,
    });
    const controller = new AbortController();
    const done = operator.run(controller.signal);
    // Observed, so a failure is reported by the test that awaits it, not as unhandled.
    done.catch(() => undefined);
    const stop = async (): Promise<void> => {
      controller.abort();
      await done.catch(() => undefined);
    };
    t.teardown(stop);
    return { identity, metrics, done, stop };
  }
}

/** Silent unless METROPOLIS_TEST_LOG=debug|info, which prints the operator's log lines. */
function testLogger(identity: string): Logger {
  const level = process.env.METROPOLIS_TEST_LOG;
  return level === 'debug' || level === 'info'
    ? createLogger({ format: 'cli', level, fields: { identity } })
    : silentLogger;
}

/** Counter and gauge values from a metrics registry, by metric name and labels. */
export async function metricValue(
  metrics: OperatorMetrics,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (metric === undefined) return 0;
  const { values } = await metric.get();
  return values
    .filter((value) => Object.entries(labels).every(([key, v]) => value.labels[key] === v))
    .reduce((sum, value) => sum + value.value, 0);
}

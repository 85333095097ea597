// The agent's view of the cluster's Kubernetes API: the set-up a new cluster needs (CRDs, the
// system namespace, RBAC, its own MonogonNode), the register ticket, and joining nodes' records.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  RbacAuthorizationV1Api,
  loadAllYaml,
  setHeaderOptions,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { certificateRoles, systemNamespace } from '@metropolis/api';
import type { ClientCredentials } from '@metropolis/control-plane';
import { sleep } from '@metropolis/supervisor';
import { AgentError } from '../errors.js';

export interface SelfNode {
  readonly nodeId: string;
  readonly address: string;
  readonly roles: readonly string[];
}

/** What the owner decided about a node, and where it registered. */
export interface NodeRecord {
  readonly approved: boolean;
  readonly address: string;
  readonly roles: readonly string[];
}

const group = 'metropolis.monogon.dev';
const version = 'v1alpha1';

export class ClusterApi {
  #kc: KubeConfig;

  constructor(server: string, credentials: ClientCredentials) {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        { name: 'metropolis', server, caData: b64(credentials.caPem), skipTLSVerify: false },
      ],
      users: [
        {
          name: 'agent',
          certData: b64(credentials.certificatePem),
          keyData: b64(credentials.keyPem),
        },
      ],
      contexts: [{ name: 'agent', cluster: 'metropolis', user: 'agent' }],
      currentContext: 'agent',
    });
    this.#kc = kc;
  }

  /** The admin client configuration, for the CA holder's other controllers. */
  get kubeConfig(): KubeConfig {
    return this.#kc;
  }

  /** Idempotent: safe on every boot of a control-plane node. */
  async apply(crdsDir: string, self: SelfNode, signal: AbortSignal): Promise<void> {
    await this.#applyCrds(crdsDir, signal);
    const core = this.#kc.makeApiClient(CoreV1Api);
    await ignoreConflict(core.createNamespace({ body: { metadata: { name: systemNamespace } } }));
    await this.#rbac();
    const objects = this.#kc.makeApiClient(CustomObjectsApi);
    await ignoreConflict(
      objects.createClusterCustomObject({
        group,
        version,
        plural: 'monogonnodes',
        body: {
          apiVersion: `${group}/${version}`,
          kind: 'MonogonNode',
          metadata: { name: self.nodeId },
          spec: { roles: [...self.roles], approved: true },
        },
      }),
    );
    await objects.patchClusterCustomObjectStatus(
      {
        group,
        version,
        plural: 'monogonnodes',
        name: self.nodeId,
        body: { status: { state: 'UP', address: self.address } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  /** Keeps the register ticket where the owner can read it (metroctl cluster register-ticket). */
  async storeRegisterTicket(ticket: string): Promise<void> {
    const core = this.#kc.makeApiClient(CoreV1Api);
    await ignoreConflict(
      core.createNamespacedSecret({
        namespace: systemNamespace,
        body: {
          metadata: { name: 'register-ticket' },
          type: 'Opaque',
          stringData: { ticket },
        },
      }),
    );
  }

  /** Records a registering node as NEW, unless it is known already. */
  async registerNode(nodeId: string, address: string): Promise<void> {
    const objects = this.#kc.makeApiClient(CustomObjectsApi);
    await ignoreConflict(
      objects.createClusterCustomObject({
        group,
        version,
        plural: 'monogonnodes',
        body: {
          apiVersion: `${group}/${version}`,
          kind: 'MonogonNode',
          metadata: { name: nodeId },
          spec: { roles: [], approved: false },
        },
      }),
    );
    const current = (await objects.getClusterCustomObject({
      group,
      version,
      plural: 'monogonnodes',
      name: nodeId,
    })) as { status?: { state?: string } };
    if (current.status?.state === undefined || current.status.state === 'NEW') {
      await objects.patchClusterCustomObjectStatus(
        {
          group,
          version,
          plural: 'monogonnodes',
          name: nodeId,
          body: { status: { state: 'NEW', address } },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    }
  }

  /** Whether the owner approved the node, the address it registered with, and its roles. */
  async approval(nodeId: string): Promise<NodeRecord | undefined> {
    const objects = this.#kc.makeApiClient(CustomObjectsApi);
    try {
      const node = (await objects.getClusterCustomObject({
        group,
        version,
        plural: 'monogonnodes',
        name: nodeId,
      })) as { spec?: { approved?: boolean; roles?: string[] }; status?: { address?: string } };
      return {
        approved: node.spec?.approved === true,
        address: node.status?.address ?? '',
        roles: node.spec?.roles ?? [],
      };
    } catch (error) {
      if ((error as { code?: unknown }).code === 404) return undefined;
      throw error;
    }
  }

  async #applyCrds(dir: string, signal: AbortSignal): Promise<void> {
    const api = this.#kc.makeApiClient(ApiextensionsV1Api);
    const files = (await readdir(dir)).filter((name) => name.endsWith('.yaml')).sort();
    if (files.length === 0) throw new AgentError('AGENT_CONTROL_PLANE', `no CRDs in ${dir}`);
    for (const file of files) {
      // loadAllYaml maps YAML keys to client-node's model (x-kubernetes-validations becomes
      // xKubernetesValidations); a plain YAML parse would have the serializer drop them.
      for (const crd of loadAllYaml(
        await readFile(join(dir, file), 'utf8'),
      ) as V1CustomResourceDefinition[]) {
        const name = crd.metadata?.name ?? '';
        try {
          await api.createCustomResourceDefinition({ body: crd });
        } catch (error) {
          if (!isConflict(error)) throw error;
          const current = await api.readCustomResourceDefinition({ name });
          // A replace must name the version it replaces.
          crd.metadata ??= { name };
          crd.metadata.resourceVersion = current.metadata?.resourceVersion ?? '';
          await api.replaceCustomResourceDefinition({ name, body: crd });
        }
        await this.#established(api, name, signal);
      }
    }
  }

  async #established(api: ApiextensionsV1Api, name: string, signal: AbortSignal): Promise<void> {
    for (let i = 0; i < 200 && !signal.aborted; i++) {
      const crd = await api.readCustomResourceDefinition({ name });
      if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True'))
        return;
      await sleep(100, signal);
    }
    throw new AgentError('AGENT_CONTROL_PLANE', `CRD ${name} did not become Established`);
  }

  async #rbac(): Promise<void> {
    const rbac = this.#kc.makeApiClient(RbacAuthorizationV1Api);
    // The owner is the cluster's administrator, as in Monogon.
    await ignoreConflict(
      rbac.createClusterRoleBinding({
        body: {
          metadata: { name: 'metropolis:owner' },
          roleRef: {
            apiGroup: 'rbac.authorization.k8s.io',
            kind: 'ClusterRole',
            name: 'cluster-admin',
          },
          subjects: [
            { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: certificateRoles.owner },
          ],
        },
      }),
    );
    // The operator gets what it reconciles, its leases (leader, node heartbeats) and events:
    // nothing more.
    await ignoreConflict(
      rbac.createClusterRole({
        body: {
          metadata: { name: 'metropolis:operator' },
          rules: [
            { apiGroups: [group], resources: ['*'], verbs: ['*'] },
            {
              apiGroups: ['coordination.k8s.io'],
              resources: ['leases'],
              // delete: a deleted node's heartbeat Lease (no garbage collector runs here).
              verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
            },
            {
              apiGroups: ['', 'events.k8s.io'],
              resources: ['events'],
              verbs: ['create', 'patch', 'update', 'get', 'list', 'watch'],
            },
            {
              apiGroups: ['apiextensions.k8s.io'],
              resources: ['customresourcedefinitions'],
              verbs: ['get', 'list', 'watch'],
            },
          ],
        },
      }),
    );
    // Bound per controller node, not to the operator group: see operator-bindings.ts.
  }
}

function b64(pem: string): string {
  return Buffer.from(pem).toString('base64');
}

function isConflict(error: unknown): boolean {
  return (error as { code?: unknown }).code === 409;
}

async function ignoreConflict(request: Promise<unknown>): Promise<void> {
  try {
    await request;
  } catch (error) {
    if (!isConflict(error)) throw error;
  }
}

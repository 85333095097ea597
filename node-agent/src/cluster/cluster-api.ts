// The agent's view of the cluster's Kubernetes API: the set-up a new cluster needs (CRDs and
// admission policies, the system namespace, RBAC, its own MonogonNode), the register ticket, and
// joining nodes' records.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AdmissionregistrationV1Api,
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  RbacAuthorizationV1Api,
  loadAllYaml,
  setHeaderOptions,
  type V1ClusterRole,
  type V1ClusterRoleBinding,
  type V1CustomResourceDefinition,
  type V1Role,
  type V1ValidatingAdmissionPolicy,
  type V1ValidatingAdmissionPolicyBinding,
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
  /** status.state ('' before the operator set one). */
  readonly state: string;
}

const group = 'metropolis.monogon.dev';
const version = 'v1alpha1';
/** Where the operator records Events (its --events-namespace default). */
export const operatorEventsNamespace = 'default';

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

  /**
   * The current register ticket, from the Secret the owner may rewrite
   * (metroctl cluster rotate-ticket).
   */
  async registerTicket(): Promise<string> {
    const secret = await this.#kc
      .makeApiClient(CoreV1Api)
      .readNamespacedSecret({ name: 'register-ticket', namespace: systemNamespace });
    const ticket = Buffer.from(secret.data?.['ticket'] ?? '', 'base64').toString('utf8');
    if (ticket === '') throw new AgentError('AGENT_CONTROL_PLANE', 'the register ticket is empty');
    return ticket;
  }

  /**
   * Records a registering node as NEW, unless it is known already. Refuses an address another
   * node uses, and a new node while `maxPending` nodes wait for approval.
   */
  async registerNode(nodeId: string, address: string, maxPending: number): Promise<void> {
    const objects = this.#kc.makeApiClient(CustomObjectsApi);
    const { items } = (await objects.listClusterCustomObject({
      group,
      version,
      plural: 'monogonnodes',
    })) as {
      items: {
        metadata?: { name?: string };
        spec?: { approved?: boolean };
        status?: { state?: string; address?: string };
      }[];
    };
    const known = items.find((node) => node.metadata?.name === nodeId);
    if (items.some((node) => node.metadata?.name !== nodeId && node.status?.address === address)) {
      throw new AgentError('AGENT_ADDRESS_IN_USE', `another node uses the address ${address}`);
    }
    const pending = items.filter(
      (node) => node.spec?.approved !== true && (node.status?.state ?? 'NEW') === 'NEW',
    ).length;
    if (known === undefined && pending >= maxPending) {
      throw new AgentError(
        'AGENT_TOO_MANY_PENDING',
        `${String(pending)} nodes wait for approval already; approve or delete some first`,
      );
    }
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
    const state = known?.status?.state;
    if (state === undefined || state === 'NEW') {
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
      })) as {
        spec?: { approved?: boolean; roles?: string[] };
        status?: { address?: string; state?: string };
      };
      return {
        approved: node.spec?.approved === true,
        address: node.status?.address ?? '',
        state: node.status?.state ?? '',
        roles: node.spec?.roles ?? [],
      };
    } catch (error) {
      if ((error as { code?: unknown }).code === 404) return undefined;
      throw error;
    }
  }

  /**
   * Installs every object of the YAML files in `dir`: the CRDs first, then the admission
   * policies on them (crds/admission-policies.yaml). Each replaces what the cluster has.
   */
  async #applyCrds(dir: string, signal: AbortSignal): Promise<void> {
    const api = this.#kc.makeApiClient(ApiextensionsV1Api);
    const files = (await readdir(dir)).filter((name) => name.endsWith('.yaml')).sort();
    // loadAllYaml maps YAML keys to client-node's model (x-kubernetes-validations becomes
    // xKubernetesValidations); a plain YAML parse would have the serializer drop them.
    const objects = (
      await Promise.all(
        files.map(
          async (file): Promise<unknown[]> =>
            loadAllYaml(await readFile(join(dir, file), 'utf8')) as unknown[],
        ),
      )
    ).flat() as { kind?: string }[];
    const crds = objects.filter(
      (object): object is V1CustomResourceDefinition => object.kind === 'CustomResourceDefinition',
    );
    if (crds.length === 0) throw new AgentError('AGENT_CONTROL_PLANE', `no CRDs in ${dir}`);
    for (const crd of crds) {
      const name = crd.metadata?.name ?? '';
      await upsert(
        crd,
        () => api.createCustomResourceDefinition({ body: crd }),
        () => api.readCustomResourceDefinition({ name }),
        () => api.replaceCustomResourceDefinition({ name, body: crd }),
      );
      await this.#established(api, name, signal);
    }
    const admission = this.#kc.makeApiClient(AdmissionregistrationV1Api);
    for (const object of objects) {
      if (object.kind === 'ValidatingAdmissionPolicy') {
        const policy = object as V1ValidatingAdmissionPolicy;
        const name = policy.metadata?.name ?? '';
        await upsert(
          policy,
          () => admission.createValidatingAdmissionPolicy({ body: policy }),
          () => admission.readValidatingAdmissionPolicy({ name }),
          () => admission.replaceValidatingAdmissionPolicy({ name, body: policy }),
        );
      } else if (object.kind === 'ValidatingAdmissionPolicyBinding') {
        const binding = object as V1ValidatingAdmissionPolicyBinding;
        const name = binding.metadata?.name ?? '';
        await upsert(
          binding,
          () => admission.createValidatingAdmissionPolicyBinding({ body: binding }),
          () => admission.readValidatingAdmissionPolicyBinding({ name }),
          () => admission.replaceValidatingAdmissionPolicyBinding({ name, body: binding }),
        );
      } else if (object.kind !== 'CustomResourceDefinition') {
        throw new AgentError(
          'AGENT_CONTROL_PLANE',
          `${dir}: a ${String(object.kind)} is neither a CRD nor an admission policy`,
        );
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

  /**
   * The RBAC objects, replaced on every start: a tightened rule reaches an existing cluster, and
   * a role edited by hand is restored.
   */
  async #rbac(): Promise<void> {
    const rbac = this.#kc.makeApiClient(RbacAuthorizationV1Api);
    const clusterRoleBinding = (body: V1ClusterRoleBinding) => {
      const name = body.metadata?.name ?? '';
      return upsert(
        body,
        () => rbac.createClusterRoleBinding({ body }),
        () => rbac.readClusterRoleBinding({ name }),
        () => rbac.replaceClusterRoleBinding({ name, body }),
      );
    };
    const clusterRole = (body: V1ClusterRole) => {
      const name = body.metadata?.name ?? '';
      return upsert(
        body,
        () => rbac.createClusterRole({ body }),
        () => rbac.readClusterRole({ name }),
        () => rbac.replaceClusterRole({ name, body }),
      );
    };
    const role = (body: V1Role) => {
      const name = body.metadata?.name ?? '';
      const namespace = body.metadata?.namespace ?? '';
      return upsert(
        body,
        () => rbac.createNamespacedRole({ namespace, body }),
        () => rbac.readNamespacedRole({ name, namespace }),
        () => rbac.replaceNamespacedRole({ name, namespace, body }),
      );
    };
    // The owner is the cluster's administrator, as in Monogon.
    await clusterRoleBinding({
      metadata: { name: 'metropolis:owner' },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: 'cluster-admin',
      },
      subjects: [
        { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: certificateRoles.owner },
      ],
    });
    // Exactly what the operator calls (docs/operator.md, "Permissions"): it reads MonogonNodes
    // and OSUpdates and writes their status; patch on MonogonNodes only sets its finalizer, as
    // the admission policies keep spec.approved and spec.roles the owner's.
    await clusterRole({
      metadata: { name: 'metropolis:operator' },
      rules: [
        {
          apiGroups: [group],
          resources: ['monogonnodes', 'osupdates'],
          verbs: ['get', 'list', 'watch'],
        },
        { apiGroups: [group], resources: ['monogonnodes'], verbs: ['patch'] },
        {
          apiGroups: [group],
          resources: ['monogonnodes/status', 'osupdates/status'],
          verbs: ['get', 'update', 'patch'],
        },
      ],
    });
    // Who holds the operator's roles: each controller node's own operator identity, bound by
    // the CA holder's revocation controller (operator-bindings.ts), never the operator group.
    // Its leader election Lease and the nodes' heartbeat Leases, in its own namespace only
    // (delete: a deleted node's Lease, as no garbage collector runs here).
    await role({
      metadata: { name: 'metropolis:operator', namespace: systemNamespace },
      rules: [
        {
          apiGroups: ['coordination.k8s.io'],
          resources: ['leases'],
          verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
        },
      ],
    });
    // Events about MonogonNodes, in the operator's events namespace (--events-namespace).
    await role({
      metadata: { name: 'metropolis:operator-events', namespace: operatorEventsNamespace },
      rules: [{ apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create'] }],
    });
  }
}

function b64(pem: string): string {
  return Buffer.from(pem).toString('base64');
}

function isConflict(error: unknown): boolean {
  return (error as { code?: unknown }).code === 409;
}

/**
 * Creates `body`, or replaces the object of its name (at the version read just now): the cluster
 * ends up with exactly `body`, whatever it had.
 */
async function upsert(
  body: { metadata?: { resourceVersion?: string } },
  create: () => Promise<unknown>,
  read: () => Promise<{ metadata?: { resourceVersion?: string } }>,
  replace: () => Promise<unknown>,
): Promise<void> {
  try {
    await create();
    return;
  } catch (error) {
    if (!isConflict(error)) throw error;
  }
  const current = await read();
  // A replace must name the version it replaces.
  body.metadata ??= {};
  body.metadata.resourceVersion = current.metadata?.resourceVersion ?? '';
  await replace();
}

async function ignoreConflict(request: Promise<unknown>): Promise<void> {
  try {
    await request;
  } catch (error) {
    if (!isConflict(error)) throw error;
  }
}

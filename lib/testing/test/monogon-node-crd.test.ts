// crds/monogon-node.yaml on a real kube-apiserver: valid nodes are stored, invalid ones are
// refused with readable messages, and status, printer columns and discovery work as documented.
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import {
  ApiException,
  ApiextensionsV1Api,
  CustomObjectsApi,
  KubeConfig,
  loadYaml,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { ControlPlane, controlPlaneBinariesFrom } from '@metropolis/testing';

// The YAML is the contract: the test installs exactly the file operators and docs point at.
const crdFile = join(import.meta.dirname, '..', '..', '..', 'crds', 'monogon-node.yaml');
const group = 'metropolis.monogon.dev';
const version = 'v1alpha1';
const plural = 'monogonnodes';
const apiVersion = `${group}/${version}`;

interface Context {
  controlPlane: ControlPlane;
  objects: CustomObjectsApi;
}

const test = anyTest as TestFn<Context>;

/**
 * What the test reads back, as plain JSON: lib/testing does not depend on lib/api, whose
 * generated types lib/api/src/crd/monogon-node.test.ts checks instead.
 */
interface Node {
  apiVersion: string;
  kind: string;
  metadata: { name: string; generation?: number; resourceVersion?: string };
  spec: { roles?: string[]; approved?: boolean };
  status?: Record<string, unknown>;
}

interface Table {
  columnDefinitions: { name: string; type: string; priority: number }[];
  rows: { cells: unknown[] }[];
}

interface ApiResourceList {
  resources: {
    name: string;
    kind: string;
    namespaced: boolean;
    shortNames?: string[];
    categories?: string[];
  }[];
}

const healthyStatus = {
  state: 'UP',
  health: 'HEALTHY',
  address: '10.0.0.3',
  tpm: true,
  version: '0.1.0-dev12.g1234abcd',
  bootedSlot: 'A',
  bootOrder: ['A', 'B'],
  runningRoles: ['ConsensusMember', 'KubernetesController'],
  conditions: [
    {
      type: 'RolesApplied',
      status: 'True',
      reason: 'AllRolesRunning',
      message: '',
      lastTransitionTime: '2026-01-01T00:00:00Z',
      observedGeneration: 1,
    },
  ],
  observedGeneration: 1,
};

/** A fresh node ID: "metropolis-" and the hex of 16 random bytes, like a real node's. */
function nodeId(): string {
  return `metropolis-${randomBytes(16).toString('hex')}`;
}

function monogonNode(name: string, spec: Node['spec'], status?: Node['status']): Node {
  return {
    apiVersion,
    kind: 'MonogonNode',
    metadata: { name },
    spec,
    ...(status === undefined ? {} : { status }),
  };
}

async function untilEstablished(api: ApiextensionsV1Api, name: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const crd = await api.readCustomResourceDefinition({ name });
    if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`CRD ${name} never became Established`);
}

async function create(objects: CustomObjectsApi, node: Node): Promise<Node> {
  return (await objects.createClusterCustomObject({ group, version, plural, body: node })) as Node;
}

async function read(objects: CustomObjectsApi, name: string): Promise<Node> {
  return (await objects.getClusterCustomObject({ group, version, plural, name })) as Node;
}

/** Asserts that the API server refused the request as invalid (422); resolves to its message. */
async function refusal(t: ExecutionContext<Context>, promise: Promise<unknown>): Promise<string> {
  const error = await t.throwsAsync(promise, { instanceOf: ApiException });
  t.is(error.code, 422);
  const body: unknown = typeof error.body === 'string' ? JSON.parse(error.body) : error.body;
  if (typeof body === 'object' && body !== null && 'message' in body) return String(body.message);
  throw new Error(`not a Status: ${JSON.stringify(body)}`);
}

/** GET with the admin certificate; `accept` picks the representation, e.g. a Table. */
function getJson(controlPlane: ControlPlane, path: string, accept: string): Promise<unknown> {
  const { caPem, certificatePem, keyPem } = controlPlane.admin;
  return new Promise((resolve, reject) => {
    const req = request(
      `${controlPlane.server}${path}`,
      { ca: caPem, cert: certificatePem, key: keyPem, headers: { accept } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode === 200) resolve(JSON.parse(text));
          else reject(new Error(`GET ${path}: HTTP ${String(res.statusCode)}: ${text}`));
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test.before(async (t) => {
  const controlPlane = await ControlPlane.start({
    binaries: controlPlaneBinariesFrom(process.env),
  });
  const kc = new KubeConfig();
  kc.loadFromString(await controlPlane.kubeconfig());
  const crds = kc.makeApiClient(ApiextensionsV1Api);
  const crd = loadYaml<V1CustomResourceDefinition>(await readFile(crdFile, 'utf8'));
  await crds.createCustomResourceDefinition({ body: crd });
  await untilEstablished(crds, crd.metadata?.name ?? '');
  t.context = { controlPlane, objects: kc.makeApiClient(CustomObjectsApi) };
});

test.after.always(async (t) => {
  // before() may have failed before it set the context.
  const context = t.context as Partial<Context>;
  await context.controlPlane?.stop();
});

test('a valid MonogonNode is stored and reads back with its defaults', async (t) => {
  const { objects } = t.context;
  const name = nodeId();
  await create(objects, monogonNode(name, { roles: ['ConsensusMember', 'KubernetesController'] }));

  const node = await read(objects, name);
  t.is(node.metadata.name, name);
  t.is(node.metadata.generation, 1);
  t.deepEqual(node.spec, { roles: ['ConsensusMember', 'KubernetesController'], approved: false });
  t.is(node.status, undefined);

  // spec is defaulted to {} (and approved to false): a freshly registered node needs no spec.
  const bare = nodeId();
  const { spec: _spec, ...withoutSpec } = monogonNode(bare, {});
  await objects.createClusterCustomObject({ group, version, plural, body: withoutSpec });
  t.deepEqual((await read(objects, bare)).spec, { approved: false });
});

const invalidSpecs: { title: string; roles: string[]; message: RegExp }[] = [
  {
    title: 'an unknown role',
    roles: ['ConsensusMember', 'Janitor'],
    message:
      /spec\.roles\[1\]: Unsupported value: "Janitor": supported values: "ConsensusMember", "KubernetesController", "KubernetesWorker"/,
  },
  {
    title: 'KubernetesController without ConsensusMember',
    roles: ['KubernetesController', 'KubernetesWorker'],
    message: /spec\.roles: .*the KubernetesController role requires the ConsensusMember role/,
  },
  {
    title: 'a role listed twice',
    roles: ['ConsensusMember', 'ConsensusMember'],
    message: /spec\.roles\[1\]: Duplicate value: "ConsensusMember"/,
  },
];

for (const { title, roles, message } of invalidSpecs) {
  test(`the API server refuses ${title}`, async (t) => {
    const name = nodeId();
    t.regex(await refusal(t, create(t.context.objects, monogonNode(name, { roles }))), message);
  });
}

for (const name of [
  'node-1',
  'metropolis-0123456789abcdef',
  'metropolis-0123456789abcdef0123456789abcdeg',
  'metropolis-0123456789abcdef0123456789abcdef0',
]) {
  test(`the API server refuses the name ${name}, which is not a node ID`, async (t) => {
    const message = await refusal(t, create(t.context.objects, monogonNode(name, {})));
    t.true(
      message.includes(
        `metadata.name: Invalid value: "${name}": must be a node ID ("metropolis-" followed by 32 lowercase hexadecimal digits)`,
      ),
      message,
    );
  });
}

test('approval is permanent: approved cannot go back to false', async (t) => {
  const { objects } = t.context;
  const name = nodeId();
  const created = await create(objects, monogonNode(name, { approved: true }));

  const revoke = (spec: Node['spec']): Promise<unknown> =>
    objects.replaceClusterCustomObject({
      group,
      version,
      plural,
      name,
      body: { ...created, spec },
    });
  const expected =
    'spec.approved: Invalid value: false: approval cannot be revoked: approved cannot go back to false; delete the MonogonNode to remove the node';
  t.true((await refusal(t, revoke({ approved: false }))).includes(expected));
  // Leaving the field out does not get around it: the default (false) applies first.
  t.true((await refusal(t, revoke({}))).includes(expected));
  t.true((await read(objects, name)).spec.approved);

  // false -> true is the normal path.
  const other = await create(objects, monogonNode(nodeId(), {}));
  await objects.replaceClusterCustomObject({
    group,
    version,
    plural,
    name: other.metadata.name,
    body: { ...other, spec: { approved: true } },
  });
  t.true((await read(objects, other.metadata.name)).spec.approved);
});

test('status is written through the status subresource and does not bump the generation', async (t) => {
  const { objects } = t.context;
  const name = nodeId();
  // With a status subresource, a create drops status: only /status writes it.
  await create(objects, monogonNode(name, { roles: ['ConsensusMember'] }, healthyStatus));
  const created = await read(objects, name);
  t.is(created.status, undefined);

  await objects.replaceClusterCustomObjectStatus({
    group,
    version,
    plural,
    name,
    body: { ...created, status: healthyStatus },
  });
  const withStatus = await read(objects, name);
  t.deepEqual(withStatus.status, healthyStatus);
  t.is(withStatus.metadata.generation, 1);

  // A write to the main resource changes spec (generation + 1) and ignores status.
  await objects.replaceClusterCustomObject({
    group,
    version,
    plural,
    name,
    body: {
      ...withStatus,
      spec: { roles: ['ConsensusMember', 'KubernetesWorker'] },
      status: { ...healthyStatus, state: 'DECOMMISSIONED' },
    },
  });
  const respecified = await read(objects, name);
  t.is(respecified.metadata.generation, 2);
  t.deepEqual(respecified.spec.roles, ['ConsensusMember', 'KubernetesWorker']);
  t.is(respecified.status?.['state'], 'UP');
});

test('the status subresource keeps every health check the operator writes', async (t) => {
  const { objects } = t.context;
  const name = nodeId();
  const created = await create(objects, monogonNode(name, {}));
  const status = {
    state: 'UP',
    health: 'UNHEALTHY',
    healthChecks: [
      { name: 'data-partition', ok: true, since: '2030-01-01T00:00:00Z', message: 'writable' },
      { name: 'etcd', ok: false, since: '2030-01-01T00:01:00Z', message: 'not running' },
    ],
  };
  await objects.replaceClusterCustomObjectStatus({
    group,
    version,
    plural,
    name,
    body: { ...created, status },
  });
  t.deepEqual((await read(objects, name)).status, status);
});

test('the status subresource accepts an IPv6 address', async (t) => {
  const { objects } = t.context;
  const name = nodeId();
  const created = await create(objects, monogonNode(name, {}));
  const status = { state: 'NEW', health: 'UNKNOWN', address: '2001:db8::7' };
  await objects.replaceClusterCustomObjectStatus({
    group,
    version,
    plural,
    name,
    body: { ...created, status },
  });
  t.deepEqual((await read(objects, name)).status, status);
});

const invalidStatuses: { title: string; status: Record<string, unknown>; message: string }[] = [
  {
    title: 'an unknown state',
    status: { state: 'RUNNING' },
    message:
      'status.state: Unsupported value: "RUNNING": supported values: "NEW", "STANDBY", "UP", "DECOMMISSIONED"',
  },
  {
    title: 'an unknown health',
    status: { health: 'FINE' },
    message:
      'status.health: Unsupported value: "FINE": supported values: "HEALTHY", "UNHEALTHY", "HEARTBEAT_TIMEOUT", "UNKNOWN"',
  },
  {
    title: 'an address that is not an IP address',
    status: { address: '10.0.0.300' },
    message: 'status.address: Invalid value: "10.0.0.300": address must be an IPv4 or IPv6 address',
  },
  {
    title: 'a slot listed twice in the boot order',
    status: { bootOrder: ['B', 'B'] },
    message: 'status.bootOrder: Invalid value: bootOrder lists each slot at most once',
  },
  {
    title: 'a roles summary that is not comma-separated names',
    status: { rolesSummary: 'ConsensusMember, KubernetesWorker' },
    message:
      'status.rolesSummary: Invalid value: "ConsensusMember, KubernetesWorker": rolesSummary in body should match',
  },
  {
    title: 'a health check without its outcome',
    status: { healthChecks: [{ name: 'etcd', since: '2030-01-01T00:00:00Z', message: '' }] },
    message: 'status.healthChecks[0].ok: Required value',
  },
  {
    title: 'the same health check twice',
    status: {
      healthChecks: [
        { name: 'etcd', ok: true, since: '2030-01-01T00:00:00Z', message: 'ok' },
        { name: 'etcd', ok: false, since: '2030-01-01T00:00:00Z', message: 'down' },
      ],
    },
    message: 'status.healthChecks[1]: Duplicate value: {"name":"etcd"}',
  },
  {
    title: 'a condition reason that is not CamelCase',
    status: { conditions: [{ ...healthyStatus.conditions[0], reason: 'all roles running' }] },
    message:
      'status.conditions[0].reason: Invalid value: "all roles running": conditions[0].reason in body should match',
  },
];

for (const { title, status, message } of invalidStatuses) {
  test(`the status subresource refuses ${title}`, async (t) => {
    const { objects } = t.context;
    const name = nodeId();
    const created = await create(objects, monogonNode(name, {}));
    const update = objects.replaceClusterCustomObjectStatus({
      group,
      version,
      plural,
      name,
      body: { ...created, status },
    });
    const refused = await refusal(t, update);
    t.true(refused.includes(message), refused);
  });
}

test('printer columns follow metroctl node describe, served through the Table API', async (t) => {
  const { controlPlane, objects } = t.context;
  const name = nodeId();
  const created = await create(
    objects,
    monogonNode(name, { roles: ['ConsensusMember', 'KubernetesController'], approved: true }),
  );
  await objects.replaceClusterCustomObjectStatus({
    group,
    version,
    plural,
    name,
    body: {
      ...created,
      status: {
        ...healthyStatus,
        rolesSummary: 'ConsensusMember,KubernetesController',
        lastHeartbeat: new Date().toISOString(),
      },
    },
  });

  const table = (await getJson(
    controlPlane,
    `/apis/${group}/${version}/${plural}/${name}`,
    'application/json;as=Table;v=v1;g=meta.k8s.io',
  )) as Table;
  t.deepEqual(
    table.columnDefinitions.map((c) => [c.name, c.type, c.priority]),
    [
      ['Name', 'string', 0],
      ['State', 'string', 0],
      ['Address', 'string', 0],
      ['Health', 'string', 0],
      ['Roles', 'string', 0],
      ['TPM', 'boolean', 0],
      ['Version', 'string', 0],
      ['Heartbeat', 'date', 0],
      ['Slot', 'string', 0],
      // -o wide only.
      ['Approved', 'boolean', 1],
    ],
  );
  t.is(table.rows.length, 1);
  const [cells] = table.rows.map((row) => row.cells);
  // ROLES reads the operator's comma-joined status.rolesSummary (docs/api.md explains why); the
  // server turns the heartbeat timestamp into an age.
  t.deepEqual(cells?.slice(0, 7), [
    name,
    'UP',
    '10.0.0.3',
    'HEALTHY',
    'ConsensusMember,KubernetesController',
    true,
    '0.1.0-dev12.g1234abcd',
  ]);
  t.regex(String(cells?.[7]), /^\d+s$/);
  t.deepEqual(cells?.slice(8), ['A', true]);
});

test('discovery publishes the short names, the category and the status subresource', async (t) => {
  const discovery = (await getJson(
    t.context.controlPlane,
    `/apis/${group}/${version}`,
    'application/json',
  )) as ApiResourceList;
  const resource = discovery.resources.find((r) => r.name === plural);
  t.like(resource, {
    kind: 'MonogonNode',
    namespaced: false,
    shortNames: ['mn', 'mnode'],
    categories: ['metropolis'],
  });
  t.true(discovery.resources.some((r) => r.name === `${plural}/status`));
});

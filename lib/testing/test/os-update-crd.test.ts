// crds/os-update.yaml on a real kube-apiserver: valid updates are stored with their defaults,
// invalid ones are refused with readable messages, and status, printer columns and discovery work.
import test, { type ExecutionContext } from 'ava';
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

// The YAML is the contract: the test installs exactly the file the node agent installs.
const crdFile = join(import.meta.dirname, '..', '..', '..', 'crds', 'os-update.yaml');
const group = 'metropolis.monogon.dev';
const version = 'v1alpha1';
const plural = 'osupdates';
const apiVersion = `${group}/${version}`;

interface Harness {
  controlPlane: ControlPlane;
  objects: CustomObjectsApi;
}

let harness: Harness | undefined;
let stopControlPlane: (() => Promise<void>) | undefined;

/** The control plane and client that before() set up. */
function started(): Harness {
  if (harness === undefined) throw new Error('the control plane did not start');
  return harness;
}

/**
 * Objects are plain JSON here: lib/testing does not depend on lib/api, whose generated types
 * lib/api/src/crd/os-update.test.ts checks instead.
 */
type Json = Record<string, unknown>;

const sha256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const minimalSpec = {
  version: '0.2.0',
  bundle: { url: 'https://releases.example.com/metropolis-0.2.0.bundle', sha256 },
};

const progressingStatus = {
  observedGeneration: 1,
  phase: 'Progressing',
  summary: '1/2 nodes updated; updating metropolis-0123456789abcdef0123456789abcdef (Verifying)',
  updated: '1/2',
  counts: {
    total: 2,
    pending: 0,
    staged: 0,
    updating: 1,
    committed: 1,
    rolledBack: 0,
    failed: 0,
    reverted: 0,
  },
  nodes: [
    {
      node: 'metropolis-0123456789abcdef0123456789abcdef',
      phase: 'Verifying',
      fromVersion: '0.1.0',
      toVersion: '0.2.0',
      fromSlot: 'A',
      toSlot: 'B',
      startedAt: '2026-01-01T00:00:00Z',
      bootTimeBeforeReboot: '2025-12-31T08:00:00Z',
      rebootRequestedAt: '2026-01-01T00:01:00Z',
      reason: 'WaitingForHealthy',
      message: 'back on slot B; waiting for its roles to serve',
    },
    {
      node: 'metropolis-fedcba9876543210fedcba9876543210',
      phase: 'Committed',
      fromVersion: '0.1.0',
      toVersion: '0.2.0',
      fromSlot: 'B',
      toSlot: 'A',
      startedAt: '2026-01-01T00:00:00Z',
      finishedAt: '2026-01-01T00:00:50Z',
      // Fractional seconds are RFC 3339 too.
      bootTimeBeforeReboot: '2025-12-31T08:00:00.123Z',
      rebootRequestedAt: '2026-01-01T00:00:20.5+01:00',
    },
  ],
  conditions: [
    {
      type: 'Progressing',
      status: 'True',
      reason: 'NodesUpdating',
      message: '',
      lastTransitionTime: '2026-01-01T00:00:00Z',
      observedGeneration: 1,
    },
  ],
};

let serial = 0;

/** A fresh object name per call: the tests share one API server. */
function uniqueName(prefix: string): string {
  serial += 1;
  return `${prefix}-${String(serial)}`;
}

function osUpdate(name: string, spec: unknown, status?: unknown): Json {
  return {
    apiVersion,
    kind: 'OSUpdate',
    metadata: { name },
    spec,
    ...(status === undefined ? {} : { status }),
  };
}

/** The value at `path` inside parsed JSON, or undefined where the path leads nowhere. */
function at(value: unknown, ...path: (string | number)[]): unknown {
  let here = value;
  for (const key of path) {
    if (typeof here !== 'object' || here === null) return undefined;
    here = Object.entries(here).find(([name]) => name === String(key))?.[1];
  }
  return here;
}

function record(value: unknown): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`not an object: ${JSON.stringify(value)}`);
  }
  return { ...value };
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
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

async function create(body: Json): Promise<unknown> {
  const created: unknown = await started().objects.createClusterCustomObject({
    group,
    version,
    plural,
    body,
  });
  return created;
}

async function read(name: string): Promise<unknown> {
  const object: unknown = await started().objects.getClusterCustomObject({
    group,
    version,
    plural,
    name,
  });
  return object;
}

async function writeStatus(name: string, object: unknown, status: unknown): Promise<unknown> {
  const written: unknown = await started().objects.replaceClusterCustomObjectStatus({
    group,
    version,
    plural,
    name,
    body: { ...record(object), status },
  });
  return written;
}

/** Asserts that the API server refused the request as invalid (422); resolves to its message. */
async function refusal(t: ExecutionContext, promise: Promise<unknown>): Promise<string> {
  const error = await t.throwsAsync(promise, { instanceOf: ApiException });
  t.is(error.code, 422);
  const body: unknown = typeof error.body === 'string' ? JSON.parse(error.body) : error.body;
  const message = at(body, 'message');
  if (typeof message === 'string') return message;
  throw new Error(`not a Status: ${JSON.stringify(body)}`);
}

/** GET with the admin certificate; `accept` picks the representation, e.g. a Table. */
function getJson(path: string, accept: string): Promise<unknown> {
  const { controlPlane } = started();
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

test.before(async () => {
  const controlPlane = await ControlPlane.start({
    binaries: controlPlaneBinariesFrom(process.env),
  });
  stopControlPlane = () => controlPlane.stop();
  const kc = new KubeConfig();
  kc.loadFromString(await controlPlane.kubeconfig());
  const crds = kc.makeApiClient(ApiextensionsV1Api);
  const crd = loadYaml<V1CustomResourceDefinition>(await readFile(crdFile, 'utf8'));
  await crds.createCustomResourceDefinition({ body: crd });
  await untilEstablished(crds, crd.metadata?.name ?? '');
  harness = { controlPlane, objects: kc.makeApiClient(CustomObjectsApi) };
});

test.after.always(async () => {
  // before() may have failed after starting the control plane, before it set the harness.
  await stopControlPlane?.();
});

test('a minimal OSUpdate is stored with every default applied', async (t) => {
  const name = uniqueName('minimal');
  await create(osUpdate(name, minimalSpec));

  const stored = await read(name);
  t.is(at(stored, 'metadata', 'generation'), 1);
  t.deepEqual(at(stored, 'spec'), {
    ...minimalSpec,
    strategy: { maxUnavailable: 1, bootTimeout: '10m', healthTimeout: '5m', failurePolicy: 'Halt' },
    paused: false,
    allowDowngrade: false,
  });
  t.is(at(stored, 'status'), undefined);

  // A strategy given in part is completed field by field.
  const partial = uniqueName('partial');
  await create(osUpdate(partial, { ...minimalSpec, strategy: { failurePolicy: 'Revert' } }));
  t.deepEqual(at(await read(partial), 'spec', 'strategy'), {
    maxUnavailable: 1,
    bootTimeout: '10m',
    healthTimeout: '5m',
    failurePolicy: 'Revert',
  });
});

test('a fully specified OSUpdate reads back unchanged', async (t) => {
  const name = uniqueName('full');
  const spec = {
    version: '0.2.0-dev3.gdeadbeef',
    bundle: { url: 'http://[fd00::1]:8080/bundles/0.2.0', sha256 },
    nodeSelector: {
      matchLabels: { 'example.com/rack': 'r1', tier: 'edge' },
      matchExpressions: [
        { key: 'example.com/zone', operator: 'In', values: ['z1', 'z2'] },
        { key: 'example.com/canary', operator: 'DoesNotExist' },
      ],
    },
    strategy: {
      maxUnavailable: '50%',
      bootTimeout: '1h30m',
      healthTimeout: '2.5m',
      failurePolicy: 'Revert',
    },
    paused: true,
    allowDowngrade: true,
  };
  await create(osUpdate(name, spec));
  t.deepEqual(at(await read(name), 'spec'), spec);

  // An integer maxUnavailable stays an integer, and 100% is allowed.
  for (const maxUnavailable of [3, '100%', '1%']) {
    const other = uniqueName('budget');
    await create(osUpdate(other, { ...minimalSpec, strategy: { maxUnavailable } }));
    t.is(at(await read(other), 'spec', 'strategy', 'maxUnavailable'), maxUnavailable);
  }
});

/** A spec with one change, and the exact line the API server must answer with. */
const invalidSpecs: { title: string; spec: Json; message: string }[] = [
  {
    title: 'a sha256 that is not hexadecimal',
    spec: { ...minimalSpec, bundle: { ...minimalSpec.bundle, sha256: 'not-a-digest' } },
    message:
      'spec.bundle.sha256: Invalid value: "not-a-digest": sha256 must be 64 lowercase hexadecimal digits (the SHA-256 of the bundle file, as sha256sum prints it)',
  },
  {
    title: 'a sha256 in upper case',
    spec: {
      ...minimalSpec,
      bundle: { ...minimalSpec.bundle, sha256: sha256.toUpperCase() },
    },
    message: 'sha256 must be 64 lowercase hexadecimal digits',
  },
  {
    title: 'a sha256 one digit too long',
    spec: { ...minimalSpec, bundle: { ...minimalSpec.bundle, sha256: `${sha256}0` } },
    message: 'sha256 must be 64 lowercase hexadecimal digits',
  },
  {
    title: 'maxUnavailable 0',
    spec: { ...minimalSpec, strategy: { maxUnavailable: 0 } },
    message:
      'spec.strategy.maxUnavailable: Invalid value: 0: maxUnavailable must be at least 1 or a percentage between 1% and 100%',
  },
  {
    title: 'maxUnavailable "0%"',
    spec: { ...minimalSpec, strategy: { maxUnavailable: '0%' } },
    message:
      'spec.strategy.maxUnavailable: Invalid value: "0%": maxUnavailable must be at least 1 or a percentage between 1% and 100%',
  },
  {
    title: 'maxUnavailable "150%"',
    spec: { ...minimalSpec, strategy: { maxUnavailable: '150%' } },
    message:
      'spec.strategy.maxUnavailable: Invalid value: "150%": maxUnavailable must be at least 1 or a percentage between 1% and 100%',
  },
  {
    title: 'maxUnavailable "abc"',
    spec: { ...minimalSpec, strategy: { maxUnavailable: 'abc' } },
    message:
      'spec.strategy.maxUnavailable: Invalid value: "abc": maxUnavailable must be at least 1 or a percentage between 1% and 100%',
  },
  {
    title: 'maxUnavailable as a number in a string',
    spec: { ...minimalSpec, strategy: { maxUnavailable: '2' } },
    message: 'maxUnavailable must be at least 1 or a percentage between 1% and 100%',
  },
  {
    title: 'failurePolicy "Retry"',
    spec: { ...minimalSpec, strategy: { failurePolicy: 'Retry' } },
    message:
      'spec.strategy.failurePolicy: Unsupported value: "Retry": supported values: "Halt", "Revert"',
  },
  {
    title: 'bootTimeout "ten minutes"',
    spec: { ...minimalSpec, strategy: { bootTimeout: 'ten minutes' } },
    message:
      'spec.strategy.bootTimeout: Invalid value: "ten minutes": bootTimeout must be a duration of more than zero such as 90s, 10m or 1h30m (units h, m, s)',
  },
  {
    title: 'bootTimeout "0s"',
    spec: { ...minimalSpec, strategy: { bootTimeout: '0s' } },
    message: 'bootTimeout must be a duration of more than zero',
  },
  {
    title: 'a bootTimeout too large for a duration',
    spec: { ...minimalSpec, strategy: { bootTimeout: '99999999999999999999h' } },
    message: 'bootTimeout must be a duration of more than zero',
  },
  {
    title: 'healthTimeout "5 min"',
    spec: { ...minimalSpec, strategy: { healthTimeout: '5 min' } },
    message:
      'spec.strategy.healthTimeout: Invalid value: "5 min": healthTimeout must be a duration of more than zero such as 90s, 5m or 1h (units h, m, s)',
  },
  {
    title: 'url "ftp://x"',
    spec: { ...minimalSpec, bundle: { ...minimalSpec.bundle, url: 'ftp://x' } },
    message: 'spec.bundle.url: Invalid value: "ftp://x": url must start with http:// or https://',
  },
  {
    title: 'a url without a host',
    spec: { ...minimalSpec, bundle: { ...minimalSpec.bundle, url: 'https://' } },
    message:
      'spec.bundle.url: Invalid value: "https://": url must be a valid URL with a host, such as https://example.com/bundle',
  },
  {
    title: 'an empty version',
    spec: { ...minimalSpec, version: '' },
    message:
      'spec.version: Invalid value: "": spec.version in body should be at least 1 chars long',
  },
  {
    title: 'a spec without a bundle',
    spec: { version: '0.2.0' },
    message: 'spec.bundle: Required value',
  },
  {
    title: 'a selector requirement In without values',
    spec: {
      ...minimalSpec,
      nodeSelector: { matchExpressions: [{ key: 'example.com/zone', operator: 'In' }] },
    },
    message:
      'spec.nodeSelector.matchExpressions[0]: Invalid value: values must be non-empty for the operators In and NotIn, and empty for Exists and DoesNotExist',
  },
  {
    title: 'a selector label key that is not a label key',
    spec: { ...minimalSpec, nodeSelector: { matchLabels: { 'rack number': '1' } } },
    message: 'spec.nodeSelector.matchLabels: Invalid value: matchLabels keys must be label keys',
  },
];

for (const { title, spec, message } of invalidSpecs) {
  test(`the API server refuses ${title}`, async (t) => {
    const refused = await refusal(t, create(osUpdate(uniqueName('invalid'), spec)));
    t.true(refused.includes(message), refused);
  });
}

test('status is written through the status subresource, with one entry per node', async (t) => {
  const name = uniqueName('status');
  // With a status subresource, a create drops status: only /status writes it.
  await create(osUpdate(name, minimalSpec, progressingStatus));
  const created = await read(name);
  t.is(at(created, 'status'), undefined);

  await writeStatus(name, created, progressingStatus);
  const withStatus = await read(name);
  t.deepEqual(at(withStatus, 'status'), progressingStatus);
  t.is(at(withStatus, 'metadata', 'generation'), 1);

  // A write to the main resource changes spec (generation + 1) and ignores status.
  const replaced: unknown = await started().objects.replaceClusterCustomObject({
    group,
    version,
    plural,
    name,
    body: {
      ...record(withStatus),
      spec: { ...minimalSpec, paused: true },
      status: { ...progressingStatus, phase: 'Succeeded' },
    },
  });
  t.is(at(replaced, 'metadata', 'generation'), 2);
  t.is(at(replaced, 'spec', 'paused'), true);
  t.is(at(replaced, 'status', 'phase'), 'Progressing');
});

const invalidStatuses: { title: string; status: Json; message: string }[] = [
  {
    title: 'an unknown phase',
    status: { phase: 'Done' },
    message:
      'status.phase: Unsupported value: "Done": supported values: "Pending", "Staging", "Progressing", "Paused", "Succeeded", "Halted", "Reverting", "Reverted"',
  },
  {
    title: 'an unknown node phase',
    status: { nodes: [{ node: 'metropolis-0123456789abcdef0123456789abcdef', phase: 'Rebooted' }] },
    message: 'status.nodes[0].phase: Unsupported value: "Rebooted"',
  },
  {
    title: 'a node entry without its node',
    status: { nodes: [{ phase: 'Pending' }] },
    message: 'status.nodes[0].node: Required value',
  },
  {
    title: 'the same node twice',
    status: { nodes: [{ node: 'metropolis-a' }, { node: 'metropolis-a' }] },
    message: 'status.nodes[1]: Duplicate value',
  },
  {
    title: 'a slot that does not exist',
    status: { nodes: [{ node: 'metropolis-a', toSlot: 'C' }] },
    message: 'status.nodes[0].toSlot: Unsupported value: "C": supported values: "A", "B"',
  },
  {
    title: 'a boot time that is not a date-time',
    status: { nodes: [{ node: 'metropolis-a', bootTimeBeforeReboot: 'yesterday' }] },
    message: 'status.nodes[0].bootTimeBeforeReboot: Invalid value: "yesterday"',
  },
  {
    title: 'updated that is not x/y',
    status: { updated: 'two of three' },
    message: 'status.updated: Invalid value: "two of three"',
  },
  {
    title: 'a negative count',
    status: { counts: { failed: -1 } },
    message: 'status.counts.failed: Invalid value: -1',
  },
];

for (const { title, status, message } of invalidStatuses) {
  test(`the status subresource refuses ${title}`, async (t) => {
    const name = uniqueName('bad-status');
    const created = await create(osUpdate(name, minimalSpec));
    const refused = await refusal(t, writeStatus(name, created, status));
    t.true(refused.includes(message), refused);
  });
}

test('printer columns show version, phase and progress, served through the Table API', async (t) => {
  const name = uniqueName('columns');
  const created = await create(osUpdate(name, minimalSpec));
  await writeStatus(name, created, progressingStatus);

  const table = await getJson(
    `/apis/${group}/${version}/${plural}/${name}`,
    'application/json;as=Table;v=v1;g=meta.k8s.io',
  );
  t.deepEqual(
    list(at(table, 'columnDefinitions')).map((c) => [
      at(c, 'name'),
      at(c, 'type'),
      at(c, 'priority'),
    ]),
    [
      ['Name', 'string', 0],
      ['Version', 'string', 0],
      ['Phase', 'string', 0],
      ['Updated', 'string', 0],
      // -o wide only.
      ['Summary', 'string', 1],
      ['Age', 'date', 0],
    ],
  );
  const rows = list(at(table, 'rows'));
  t.is(rows.length, 1);
  const cells = list(at(rows[0], 'cells'));
  t.deepEqual(cells.slice(0, 5), [name, '0.2.0', 'Progressing', '1/2', progressingStatus.summary]);
  // The server turns the creation timestamp into an age.
  t.regex(String(cells[5]), /^\d+s$/);
});

test('discovery publishes the short name, the category and the status subresource', async (t) => {
  const discovery = await getJson(`/apis/${group}/${version}`, 'application/json');
  const resources = list(at(discovery, 'resources'));
  const resource = resources.find((r) => at(r, 'name') === plural);
  t.like(resource, {
    kind: 'OSUpdate',
    singularName: 'osupdate',
    namespaced: false,
    shortNames: ['osu'],
    categories: ['metropolis'],
  });
  t.true(resources.some((r) => at(r, 'name') === `${plural}/status`));
});

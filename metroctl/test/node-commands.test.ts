// metroctl's node commands against a real kube-apiserver with the real MonogonNode CRD, run as
// a user runs them: the describe table and -o json/yaml, list, add/remove role with aliases,
// the API's controller-without-consensus refusal, unknown IDs, and the failure exit codes.
import anyTest, { type TestFn } from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
} from '@kubernetes/client-node';
import { monogonNodeGroup, monogonNodePlural, monogonNodeVersion } from '@metropolis/api';
import { ControlPlane, controlPlaneBinariesFrom, kubeconfig } from '@metropolis/testing';
import { parse } from 'yaml';
import { MonogonNodes } from '../src/index.js';
import { fieldManagersOf } from './field-managers.js';
import {
  createNode,
  installMonogonNodeCrd,
  randomNodeId,
  rolesOf,
} from './monogon-node-fixture.js';
import { runMetroctl } from './run-metroctl.js';

const nodeResource = {
  group: monogonNodeGroup,
  version: monogonNodeVersion,
  plural: monogonNodePlural,
};

interface Context {
  controlPlane: ControlPlane;
  kc: KubeConfig;
  home: string;
  /** --kubeconfig and --context of the harness admin. */
  access: string[];
  /** Nodes that exist from the start, sorted by ID: a controller, a worker, a new node. */
  ids: string[];
}

const test = anyTest as TestFn<Context>;

test.before(async (t) => {
  const controlPlane = await ControlPlane.start({
    binaries: controlPlaneBinariesFrom(process.env),
  });
  const kc = new KubeConfig();
  kc.loadFromString(await controlPlane.kubeconfig());
  await installMonogonNodeCrd(kc);
  const home = await mkdtemp(join(tmpdir(), 'metroctl-home-'));
  const ids = [randomNodeId(), randomNodeId(), randomNodeId()].sort();
  const [controller, worker, fresh] = ids as [string, string, string];
  const heartbeat = new Date(Date.now() - 3_000).toISOString();
  await createNode(
    kc,
    controller,
    { roles: ['KubernetesController', 'ConsensusMember'] },
    {
      state: 'UP',
      health: 'HEALTHY',
      address: '10.1.0.2',
      tpm: true,
      version: '0.1.0-dev494',
      lastHeartbeat: heartbeat,
      bootedSlot: 'A',
    },
  );
  await createNode(
    kc,
    worker,
    {},
    {
      state: 'UP',
      health: 'HEALTHY',
      address: '10.1.0.3',
      tpm: false,
      version: '0.1.0-dev494',
      lastHeartbeat: heartbeat,
      bootedSlot: 'B',
    },
  );
  await createNode(kc, fresh, {}, { state: 'NEW', health: 'UNKNOWN', address: '10.1.0.4' });
  t.context = {
    controlPlane,
    kc,
    home,
    access: ['--kubeconfig', controlPlane.kubeconfigPath, '--context', 'harness'],
    ids,
  };
});

test.after.always(async (t) => {
  // t.context is unset when the before hook failed half-way; ControlPlane cleans up at exit.
  const context = t.context as Partial<Context>;
  await context.controlPlane?.stop();
  if (context.home !== undefined) await rm(context.home, { recursive: true, force: true });
});

const metroctl = (t: { context: Context }, ...args: string[]) =>
  runMetroctl([...t.context.access, ...args], t.context.home);

test.serial('node describe prints the table', async (t) => {
  const [controller, worker, fresh] = t.context.ids as [string, string, string];
  const run = await metroctl(t, 'node', 'describe');
  t.is(run.code, 0, run.stderr);
  t.is(run.stderr, '');
  const [header, ...rows] = run.stdout.trimEnd().split('\n');
  t.is(
    header?.split(/ {3,}/).join('|'),
    'NODE ID|STATE|ADDRESS|HEALTH|ROLES|TPM|VERSION|HEARTBEAT|SLOT',
  );
  const fields = rows.map((row) => row.split(/\s+/));
  t.deepEqual(
    fields.map((row) => [...row.slice(0, 7), row[8]]),
    [
      [
        controller,
        'UP',
        '10.1.0.2',
        'HEALTHY',
        'ConsensusMember,KubernetesController',
        'yes',
        '0.1.0-dev494',
        'A',
      ],
      [worker, 'UP', '10.1.0.3', 'HEALTHY', '-', 'no', '0.1.0-dev494', 'B'],
      [fresh, 'NEW', '10.1.0.4', 'UNKNOWN', '-', '-', '-', '-'],
    ],
  );
  // The heartbeat was 3 s old when written; allow for a slow machine.
  const age = Number(/^(\d+)s$/.exec(fields[0]?.[7] ?? '')?.[1]);
  t.true(age >= 3 && age < 60, `heartbeat ${String(fields[0]?.[7])}`);
  t.is(fields[2]?.[7], '-');
});

test.serial('node describe with IDs shows those nodes; "all" shows all', async (t) => {
  const [controller, , fresh] = t.context.ids as [string, string, string];
  const some = await metroctl(t, 'node', 'describe', fresh, controller);
  t.is(some.code, 0, some.stderr);
  const [table = '', ...details] = some.stdout.trimEnd().split('\n\n');
  t.deepEqual(
    table
      .split('\n')
      .slice(1)
      .map((row) => row.split(/\s+/)[0]),
    [fresh, controller],
  );
  t.deepEqual(
    details.map((detail) => detail.split('\n')[0]?.split(/\s+/)[1]),
    [`${fresh}:`, `${controller}:`],
    'a detail view per named node',
  );
  const all = await metroctl(t, 'node', 'describe', 'all');
  t.is(all.stdout.trimEnd().split('\n').length, 4);
});

test.serial('node describe -o json and -o yaml print the resources', async (t) => {
  const json = await metroctl(t, 'node', 'describe', '-o', 'json');
  t.is(json.code, 0, json.stderr);
  const list = JSON.parse(json.stdout) as {
    kind: string;
    items: { kind: string; metadata: { name: string }; status?: { address?: string } }[];
  };
  t.is(list.kind, 'List');
  t.deepEqual(
    list.items.map((item) => item.metadata.name),
    t.context.ids,
  );
  t.is(list.items[0]?.kind, 'MonogonNode');
  t.is(list.items[0]?.status?.address, '10.1.0.2');
  // The API returns managedFields; like kubectl, metroctl does not print them.
  const stored: unknown = await t.context.kc
    .makeApiClient(CustomObjectsApi)
    .getClusterCustomObject({ ...nodeResource, name: t.context.ids[0] ?? '' });
  t.like(stored, { metadata: { managedFields: [{ operation: 'Update' }] } });
  t.false(json.stdout.includes('managedFields'));

  const yaml = await metroctl(t, 'node', 'describe', t.context.ids[1] ?? '', '-o', 'yaml');
  t.is(yaml.code, 0, yaml.stderr);
  t.false(yaml.stdout.includes('managedFields'));
  const parsed = parse(yaml.stdout) as { items: { metadata: { name: string } }[] };
  t.deepEqual(
    parsed.items.map((item) => item.metadata.name),
    [t.context.ids[1]],
  );
});

test.serial('node list prints IDs, one per line', async (t) => {
  const run = await metroctl(t, 'node', 'list');
  t.is(run.code, 0, run.stderr);
  t.is(run.stdout, `${t.context.ids.join('\n')}\n`);
});

test.serial('an unknown node ID exits 4 and names it', async (t) => {
  const unknown = randomNodeId();
  const describe = await metroctl(t, 'node', 'describe', t.context.ids[0] ?? '', unknown);
  t.is(describe.code, 4);
  t.is(describe.stdout, '');
  t.is(describe.stderr, `metroctl: node not found: ${unknown}\n`);

  const add = await metroctl(t, 'node', 'add', 'role', 'kw', unknown);
  t.is(add.code, 4);
  t.regex(add.stderr, new RegExp(`node ${unknown} not found`));
});

test.serial('node add/remove role with aliases updates spec.roles', async (t) => {
  const [controller, worker] = t.context.ids as [string, string, string];
  const add = await metroctl(t, 'node', 'add', 'role', 'kw', worker, controller);
  t.is(add.code, 0, add.stderr);
  t.is(add.stdout, `Updated node ${worker}.\nUpdated node ${controller}.\n`);
  t.deepEqual(await rolesOf(t.context.kc, worker), ['KubernetesWorker']);
  t.deepEqual(await fieldManagersOf(t.context.kc, nodeResource, worker, ['spec', 'roles']), [
    'metroctl',
  ]);
  t.deepEqual(await rolesOf(t.context.kc, controller), [
    'ConsensusMember',
    'KubernetesController',
    'KubernetesWorker',
  ]);

  const again = await metroctl(t, 'node', 'add', 'role', 'KubernetesWorker', worker);
  t.is(again.code, 0, again.stderr);
  t.is(again.stdout, `Node ${worker} already has role KubernetesWorker.\n`);

  const describe = await metroctl(t, 'node', 'describe', worker);
  t.is(describe.stdout.split('\n')[1]?.split(/\s+/)[4], 'KubernetesWorker');

  const remove = await metroctl(
    t,
    'node',
    'remove',
    'role',
    'kubernetesworker',
    worker,
    controller,
  );
  t.is(remove.code, 0, remove.stderr);
  t.is(remove.stdout, `Updated node ${worker}.\nUpdated node ${controller}.\n`);
  t.deepEqual(await rolesOf(t.context.kc, worker), []);
  t.deepEqual(await rolesOf(t.context.kc, controller), ['ConsensusMember', 'KubernetesController']);
});

test.serial(
  'the API refuses a controller without consensus; metroctl says why (exit 6)',
  async (t) => {
    const [controller, worker] = t.context.ids as [string, string, string];
    const add = await metroctl(t, 'node', 'add', 'role', 'kc', worker);
    t.is(add.code, 6);
    t.is(add.stdout, '');
    t.regex(add.stderr, /the KubernetesController role requires the ConsensusMember role/);
    t.deepEqual(await rolesOf(t.context.kc, worker), []);

    const remove = await metroctl(t, 'node', 'remove', 'role', 'cm', controller);
    t.is(remove.code, 6);
    t.regex(remove.stderr, /the KubernetesController role requires the ConsensusMember role/);
    t.deepEqual(await rolesOf(t.context.kc, controller), [
      'ConsensusMember',
      'KubernetesController',
    ]);

    // With several nodes, the others are still updated and the exit code says why one failed.
    const mixed = await metroctl(t, 'node', 'add', 'role', 'kc', worker, controller);
    t.is(mixed.code, 6);
    t.is(mixed.stdout, `Node ${controller} already has role KubernetesController.\n`);
    t.regex(
      mixed.stderr,
      new RegExp(`Couldn't update node ${worker}: .*requires the ConsensusMember`),
    );
    t.regex(mixed.stderr, /metroctl: 1 of 2 nodes not updated/);
  },
);

test.serial('an unknown role is a usage error (exit 2)', async (t) => {
  const run = await metroctl(t, 'node', 'add', 'role', 'etcd', t.context.ids[0] ?? '');
  t.is(run.code, 2);
  t.regex(run.stderr, /unknown role "etcd": use one of ConsensusMember \(cm\)/);
});

test.serial('approve lists NEW nodes and approves one', async (t) => {
  const [controller, , fresh] = t.context.ids as [string, string, string];
  const list = await metroctl(t, 'approve');
  t.is(list.code, 0, list.stderr);
  t.is(list.stdout, `${fresh}\n`);

  const approve = await metroctl(t, 'approve', fresh);
  t.is(approve.code, 0, approve.stderr);
  t.is(approve.stdout, `Approved node ${fresh}.\n`);
  t.deepEqual(await fieldManagersOf(t.context.kc, nodeResource, fresh, ['spec', 'approved']), [
    'metroctl',
  ]);
  const again = await metroctl(t, 'approve', fresh);
  t.is(again.stdout, `Node ${fresh} is already approved.\n`);

  const none = await metroctl(t, 'approve');
  t.is(none.stdout, '');
  t.is(none.stderr, 'There are no nodes pending approval at this time.\n');

  const up = await metroctl(t, 'approve', controller);
  t.is(up.code, 6);
  t.regex(up.stderr, /is UP, not NEW/);
});

test.serial('a role change that loses a race is computed again, not lost', async (t) => {
  const id = randomNodeId();
  await createNode(t.context.kc, id, { roles: ['ConsensusMember'] });
  const api = t.context.kc.makeApiClient(CustomObjectsApi);
  const read = api.getClusterCustomObject.bind(api);
  let reads = 0;
  // Someone else adds KubernetesWorker right after metroctl's first read.
  api.getClusterCustomObject = async (param, options) => {
    const node: unknown = await read(param, options);
    if (++reads === 1) {
      const other = MonogonNodes.fromKubeConfig(t.context.kc);
      await other.updateRoles(id, (roles) => [...roles, 'KubernetesWorker']);
    }
    return node;
  };
  const seen: string[][] = [];
  const update = await new MonogonNodes(
    api,
    t.context.kc.makeApiClient(CoordinationV1Api),
  ).updateRoles(id, (roles) => {
    seen.push([...roles]);
    return [...roles, 'KubernetesController'];
  });
  t.deepEqual(seen, [['ConsensusMember'], ['ConsensusMember', 'KubernetesWorker']]);
  t.deepEqual(update.roles, ['ConsensusMember', 'KubernetesController', 'KubernetesWorker']);
  t.deepEqual(await rolesOf(t.context.kc, id), [
    'ConsensusMember',
    'KubernetesController',
    'KubernetesWorker',
  ]);
});

test.serial('cluster register-ticket prints the ticket from its Secret', async (t) => {
  const missing = await metroctl(t, 'cluster', 'register-ticket');
  t.is(missing.code, 4);
  t.is(
    missing.stderr,
    'metroctl: the cluster has no register ticket (no Secret monogon-system/register-ticket)\n',
  );

  const core = t.context.kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: 'monogon-system' } } });
  await core.createNamespacedSecret({
    namespace: 'monogon-system',
    body: { metadata: { name: 'register-ticket' }, stringData: { ticket: 'c2VjcmV0LXRpY2tldA' } },
  });
  const run = await metroctl(t, 'cluster', 'register-ticket');
  t.is(run.code, 0, run.stderr);
  t.is(run.stdout, 'c2VjcmV0LXRpY2tldA\n');
});

test.serial('exit codes: no such context 9, API unreachable 3, not allowed 5', async (t) => {
  const noContext = await runMetroctl(
    ['--kubeconfig', t.context.controlPlane.kubeconfigPath, 'node', 'describe'],
    t.context.home,
  );
  t.is(noContext.code, 9);
  t.regex(noContext.stderr, /no context "metroctl" in .*: run metroctl k8s configure/);

  const dir = await mkdtemp(join(tmpdir(), 'metroctl-kubeconfigs-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const closed = join(dir, 'closed');
  // Port 1 on loopback: nothing listens there.
  await writeFile(closed, kubeconfig('https://127.0.0.1:1', t.context.controlPlane.admin, 'x'));
  const unreachable = await runMetroctl(
    ['--kubeconfig', closed, '--context', 'x', 'node', 'list'],
    t.context.home,
  );
  t.is(unreachable.code, 3);
  t.regex(unreachable.stderr, /cannot list MonogonNodes: the Kubernetes API is unreachable/);

  const nobody = await t.context.controlPlane.ca.issue({
    commonName: 'nobody',
    usages: ['client'],
  });
  const forbidden = join(dir, 'forbidden');
  await writeFile(
    forbidden,
    kubeconfig(
      t.context.controlPlane.server,
      {
        caPem: t.context.controlPlane.ca.certificatePem,
        certificatePem: nobody.certificatePem,
        keyPem: await nobody.keyPair.privateKeyPem(),
      },
      'nobody',
    ),
  );
  const denied = await runMetroctl(
    ['--kubeconfig', forbidden, '--context', 'nobody', 'node', 'describe'],
    t.context.home,
  );
  t.is(denied.code, 5);
  t.regex(denied.stderr, /cannot list MonogonNodes: .*forbidden/);
});

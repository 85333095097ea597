// The Kubernetes side of a launched cluster's security, as an attacker holding a controller's
// operator certificate meets it: ApplyRoles that would wipe a voting etcd member is refused, the
// operator's RBAC is what it uses, it cannot approve nodes, grant roles or allow a downgrade (the
// owner can), a tampered role is restored on the CA holder's next start, kube-apiserver refuses
// anonymous requests but for its health endpoints and keeps an audit log, and a deleted consensus
// member's MonogonNode takes its etcd member with it.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Metadata, credentials, status } from '@grpc/grpc-js';
import {
  ApiException,
  AuthorizationV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
} from '@kubernetes/client-node';
import {
  certificateRoles,
  monogonNodeResource,
  NodeManagementClient,
  nodeManagementPort,
  osUpdateGroup,
  osUpdateResource,
  osUpdateVersion,
  type MonogonNode,
} from '@metropolis/api';
import type { ClientCredentials } from '@metropolis/control-plane';
import { CertificateAuthority } from '@metropolis/pki';
import {
  eventually,
  launchLeasedCluster,
  ownerCredentials,
  type LaunchedCluster,
  type LeasedCluster,
} from '../harness/index.js';

const run = promisify(execFile);
let leased: LeasedCluster;
let cluster: LaunchedCluster;

test.before(async () => {
  leased = await launchLeasedCluster({ name: 'kubesec' });
  cluster = leased.cluster;
});

test.after.always(() => leased.stop());

function data(index: number): string {
  return cluster.nodes[index]?.layout.data ?? '';
}

/** The operator certificate a controller node holds (the CA holder's, node 0). */
async function operatorCredentials(): Promise<ClientCredentials> {
  const read = (...path: string[]) => readFile(join(data(0), 'pki', ...path), 'utf8');
  return {
    caPem: await read('ca.pem'),
    certificatePem: await read('control-plane', 'operator.pem'),
    keyPem: await read('control-plane', 'operator-key.pem'),
  };
}

/** Node 0's etcd member certificate, which etcd's peer port accepts. */
async function etcdCredentials(): Promise<ClientCredentials> {
  const dir = join(data(0), 'pki', 'control-plane');
  const ca = (await readdir(dir)).includes('etcd-ca.pem')
    ? join(dir, 'etcd-ca.pem')
    : join(data(0), 'pki', 'ca.pem');
  return {
    caPem: await readFile(ca, 'utf8'),
    certificatePem: await readFile(join(dir, 'etcd.pem'), 'utf8'),
    keyPem: await readFile(join(dir, 'etcd-key.pem'), 'utf8'),
  };
}

/**
 * etcd's members (`name`, or `name (learner)`) as node 0's member has applied them, from its
 * peer endpoint (GET /members) with node 0's member certificate. Asked from inside node 0's
 * network namespace: etcd accepts a peer certificate only from an address it names.
 */
async function members(): Promise<string[]> {
  const holder = cluster.nodes[0];
  if (holder?.netns === undefined) throw new Error('node 0 has no network namespace');
  const tls = await etcdCredentials();
  const script = `
    const req = require('node:https').get('https://${cluster.endpoints[0] ?? ''}:2380/members', {
      ca: process.env.ETCD_CA, cert: process.env.ETCD_CERT, key: process.env.ETCD_KEY, timeout: 3000,
    }, (res) => { let text = ''; res.on('data', (c) => { text += c; }); res.on('end', () => {
      if (res.statusCode !== 200) { console.error('HTTP ' + res.statusCode + ': ' + text); process.exit(1); }
      console.log(text); }); });
    req.on('timeout', () => req.destroy(new Error('no answer')));
    req.on('error', (error) => { console.error(error.message); process.exit(1); });`;
  const { stdout } = await run(
    'ip',
    ['netns', 'exec', holder.netns, process.execPath, '-e', script],
    {
      env: {
        ...process.env,
        ETCD_CA: tls.caPem,
        ETCD_CERT: tls.certificatePem,
        ETCD_KEY: tls.keyPem,
      },
    },
  );
  const list = JSON.parse(stdout) as { name?: string; isLearner?: boolean }[];
  return list
    .map((member) => `${member.name ?? ''}${member.isLearner === true ? ' (learner)' : ''}`)
    .sort();
}

function kubeAs(who: ClientCredentials, index = 0): KubeConfig {
  const kc = new KubeConfig();
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  kc.loadFromOptions({
    clusters: [
      {
        name: 'c',
        server: `https://${cluster.endpoints[index] ?? ''}:6443`,
        caData: b64(who.caPem),
      },
    ],
    users: [{ name: 'u', certData: b64(who.certificatePem), keyData: b64(who.keyPem) }],
    contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
    currentContext: 'c',
  });
  return kc;
}

/** The API's refusal of `call`: its HTTP code and message (a success fails the test). */
async function refusal(call: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await call;
  } catch (error) {
    if (error instanceof ApiException) {
      return { code: error.code, message: String(error.body) };
    }
    throw error;
  }
  throw new Error('the API server accepted the request');
}

function patchNode(kc: KubeConfig, name: string, spec: object): Promise<unknown> {
  return kc
    .makeApiClient(CustomObjectsApi)
    .patchClusterCustomObject(
      { ...monogonNodeResource, name, body: { spec } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
}

async function node(name: string): Promise<MonogonNode> {
  return (await cluster.kubeConfig.makeApiClient(CustomObjectsApi).getClusterCustomObject({
    ...monogonNodeResource,
    name,
  })) as MonogonNode;
}

/** NodeManagement.ApplyRoles on node `index`'s agent with `who`: the status code and details. */
async function applyRoles(
  index: number,
  who: ClientCredentials,
  validateOnly: boolean,
): Promise<{ code: status; details: string }> {
  const client = new NodeManagementClient(
    `${cluster.endpoints[index] ?? ''}:${String(nodeManagementPort)}`,
    credentials.createSsl(
      Buffer.from(who.caPem),
      Buffer.from(who.keyPem),
      Buffer.from(who.certificatePem),
    ),
  );
  try {
    return await new Promise((resolve) => {
      client.applyRoles(
        { roles: [], consensus: undefined, validateOnly },
        new Metadata(),
        { deadline: Date.now() + 20_000 },
        (error) => {
          resolve(error === null ? { code: status.OK, details: '' } : error);
        },
      );
    });
  } finally {
    client.close();
  }
}

/** A GET on node 0's kube-apiserver without a client certificate: status code and body. */
function anonymousGet(path: string, caPem: string): Promise<{ code: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `https://${cluster.endpoints[0] ?? ''}:6443${path}`,
      { ca: caPem, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          resolve({ code: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test.serial(
  'ApplyRoles that drops a voting etcd member is refused; its data survives',
  async (t) => {
    const [first = '', second = '', third = ''] = cluster.nodeIds;
    await run(join(cluster.configDir, 'metroctl.sh'), ['node', 'add', 'role', 'cm', second, third]);
    const three = [first, second, third].sort();
    await eventually(async () => {
      const now = await members();
      if (now.join() !== three.join()) throw new Error(`members: ${now.join(', ')}`);
    }, 120_000);

    const operator = await operatorCredentials();
    const checked = await applyRoles(1, operator, true);
    t.is(checked.code, status.OK, `validate_only stays allowed: ${checked.details}`);
    const refused = await applyRoles(1, operator, false);
    t.is(refused.code, status.FAILED_PRECONDITION, refused.details);
    t.regex(refused.details, /still in the cluster's member list: remove the member first/);

    t.deepEqual(await members(), three, 'the member list is unchanged');
    t.true((await readdir(join(data(1), 'etcd'))).length > 0, 'the etcd data is still there');
    const healthy = await eventually(async () => {
      const found = await node(second);
      if (found.status?.health !== 'HEALTHY') throw new Error(`${second} is not HEALTHY`);
      return found;
    }, 30_000);
    t.true((healthy.status?.runningRoles ?? []).includes('ConsensusMember'));
  },
);

test.serial(
  'the operator may do what it uses and nothing more (SubjectAccessReview)',
  async (t) => {
    const reviews = cluster.kubeConfig.makeApiClient(AuthorizationV1Api);
    const apiGroups: Partial<Record<string, string>> = {
      leases: 'coordination.k8s.io',
      events: 'events.k8s.io',
      secrets: '',
    };
    // Operators are bound one by one, as the controllers they run on (docs/security.md#revocation).
    const controller = `operator:${cluster.nodeIds[0] ?? ''}`;
    const can = async (
      verb: string,
      resource: string,
      namespace?: string,
      subresource?: string,
      user = controller,
    ) => {
      const review = await reviews.createSubjectAccessReview({
        body: {
          spec: {
            user,
            groups: [certificateRoles.operator],
            resourceAttributes: {
              verb,
              group: apiGroups[resource] ?? osUpdateGroup,
              resource,
              ...(subresource === undefined ? {} : { subresource }),
              ...(namespace === undefined ? {} : { namespace }),
            },
          },
        },
      });
      return review.status?.allowed === true;
    };
    t.true(await can('watch', 'monogonnodes'));
    t.true(await can('update', 'monogonnodes', undefined, 'status'));
    t.true(await can('update', 'osupdates', undefined, 'status'));
    t.true(await can('update', 'leases', 'monogon-system'));
    t.true(await can('create', 'events', 'default'));
    t.false(await can('create', 'monogonnodes'));
    t.false(await can('delete', 'monogonnodes'));
    t.false(await can('create', 'osupdates'));
    t.false(await can('update', 'osupdates'));
    t.false(await can('update', 'leases', 'kube-system'));
    t.false(await can('create', 'events', 'kube-system'));
    t.false(await can('get', 'secrets', 'monogon-system'));
    // The group alone grants nothing: an operator identity of no current controller is unbound.
    t.false(await can('watch', 'monogonnodes', undefined, undefined, 'operator:someone'));
  },
);

test.serial(
  'an operator certificate cannot approve a node or change its roles; the owner can',
  async (t) => {
    const third = cluster.nodeIds[2] ?? '';
    const operator = kubeAs(await operatorCredentials());
    const roles = await refusal(
      patchNode(operator, third, { roles: ['ConsensusMember', 'KubernetesController'] }),
    );
    t.is(roles.code, 403);
    t.regex(roles.message, /only the owner may change spec\.approved or spec\.roles/);
    t.deepEqual((await node(third)).spec.roles, ['ConsensusMember']);

    // A node waiting for approval (the owner may create one; so may registration).
    const owner = kubeAs(await ownerCredentials(cluster.configDir));
    const waiting = `metropolis-${randomBytes(16).toString('hex')}`;
    await owner.makeApiClient(CustomObjectsApi).createClusterCustomObject({
      ...monogonNodeResource,
      body: {
        apiVersion: `${monogonNodeResource.group}/${monogonNodeResource.version}`,
        kind: 'MonogonNode',
        metadata: { name: waiting },
        spec: { approved: false, roles: [] },
      },
    });
    const approval = await refusal(patchNode(operator, waiting, { approved: true }));
    t.is(approval.code, 403);
    t.regex(approval.message, /only the owner may change spec\.approved or spec\.roles/);
    t.false((await node(waiting)).spec.approved);
    await patchNode(owner, waiting, { approved: true });
    t.true((await node(waiting)).spec.approved, 'the owner approves');
    await owner
      .makeApiClient(CustomObjectsApi)
      .deleteClusterCustomObject({ ...monogonNodeResource, name: waiting });

    await patchNode(owner, third, { roles: ['ConsensusMember', 'KubernetesWorker'] });
    t.deepEqual((await node(third)).spec.roles, ['ConsensusMember', 'KubernetesWorker']);
  },
);

test.serial(
  'whoever else may write MonogonNodes and OSUpdates cannot grant or allow a downgrade',
  async (t) => {
    // An editor bound by the owner: RBAC lets it write, the admission policies still refuse.
    const ca = await CertificateAuthority.load(
      await readFile(join(data(0), 'pki', 'ca.pem'), 'utf8'),
      await readFile(join(data(0), 'pki', 'ca-key.pem'), 'utf8'),
    );
    const issued = await ca.issue({
      commonName: 'editor',
      organizations: ['e2e:editors'],
      usages: ['client'],
    });
    const rbac = cluster.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createClusterRole({
      body: {
        metadata: { name: 'e2e:editor' },
        rules: [
          { apiGroups: [osUpdateGroup], resources: ['monogonnodes', 'osupdates'], verbs: ['*'] },
        ],
      },
    });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: 'e2e:editor' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'e2e:editor' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'e2e:editors' }],
      },
    });
    const owner = await ownerCredentials(cluster.configDir);
    const editor = kubeAs({
      caPem: owner.caPem,
      certificatePem: issued.certificatePem,
      keyPem: await issued.keyPair.privateKeyPem(),
    });
    const objects = editor.makeApiClient(CustomObjectsApi);
    const id = `metropolis-${randomBytes(16).toString('hex')}`;
    const approved = await refusal(
      objects.createClusterCustomObject({
        ...monogonNodeResource,
        body: {
          apiVersion: `${monogonNodeResource.group}/${monogonNodeResource.version}`,
          kind: 'MonogonNode',
          metadata: { name: id },
          spec: { approved: true, roles: [] },
        },
      }),
    );
    t.is(approved.code, 403);
    t.regex(
      approved.message,
      /only the owner may create an approved MonogonNode or one with roles/,
    );
    await objects.createClusterCustomObject({
      ...monogonNodeResource,
      body: {
        apiVersion: `${monogonNodeResource.group}/${monogonNodeResource.version}`,
        kind: 'MonogonNode',
        metadata: { name: id },
        spec: { approved: false, roles: [] },
      },
    });
    t.pass('an unapproved node without roles may be created');

    const update = (name: string) => ({
      ...osUpdateResource,
      body: {
        apiVersion: `${osUpdateGroup}/${osUpdateVersion}`,
        kind: 'OSUpdate',
        metadata: { name },
        spec: {
          version: 'v0.0.1',
          bundle: { url: 'http://127.0.0.1:1/bundle', sha256: '0'.repeat(64) },
          allowDowngrade: true,
          nodeSelector: { matchLabels: { 'e2e.metropolis/none': 'none' } },
        },
      },
    });
    const downgrade = await refusal(objects.createClusterCustomObject(update('e2e-downgrade')));
    t.is(downgrade.code, 403);
    t.regex(
      downgrade.message,
      /only the owner may create or change an OSUpdate with spec\.allowDowngrade true/,
    );
    const byOwner = kubeAs(owner).makeApiClient(CustomObjectsApi);
    await byOwner.createClusterCustomObject(update('e2e-downgrade-owner'));
    await byOwner.deleteClusterCustomObject({ ...osUpdateResource, name: 'e2e-downgrade-owner' });
    t.pass('the owner may');
  },
);

test.serial(
  'anonymous requests are refused but for health; the audit log records requests',
  async (t) => {
    const { caPem } = await ownerCredentials(cluster.configDir);
    const api = await anonymousGet('/api', caPem);
    t.is(api.code, 401, api.body);
    const ready = await anonymousGet('/readyz', caPem);
    t.is(ready.code, 200, ready.body);
    t.is(ready.body, 'ok');

    const probe = `metropolis-${randomBytes(16).toString('hex')}`;
    await refusal(node(probe));
    await eventually(async () => {
      const log = await readFile(join(data(0), 'control-plane', 'audit.log'), 'utf8');
      const line = log.split('\n').find((entry) => entry.includes(probe));
      if (line === undefined) throw new Error('the request is not in the audit log yet');
      t.regex(line, /"level":"Metadata"/);
      t.regex(line, /"username":"owner/);
    }, 30_000);
  },
);

test.serial(
  "a ClusterRole changed by hand is restored when the CA holder's agent starts",
  async (t) => {
    const rbac = cluster.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    const before = await rbac.readClusterRole({ name: 'metropolis:operator' });
    await rbac.replaceClusterRole({
      name: 'metropolis:operator',
      body: {
        metadata: {
          name: 'metropolis:operator',
          resourceVersion: before.metadata?.resourceVersion ?? '',
        },
        rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }],
      },
    });
    const holder = cluster.nodes[0];
    if (holder === undefined) throw new Error('no node 0');
    await holder.powerCut();
    const restored = await eventually(async () => {
      const now = await rbac.readClusterRole({ name: 'metropolis:operator' });
      if (JSON.stringify(now.rules) !== JSON.stringify(before.rules)) {
        throw new Error(`rules: ${JSON.stringify(now.rules)}`);
      }
      return now;
    }, 180_000);
    t.false(JSON.stringify(restored.rules).includes('"*"'));
  },
);

test.serial(
  "deleting a consensus member's MonogonNode removes its etcd member; the cluster stays healthy",
  async (t) => {
    const [first = '', second = '', third = ''] = cluster.nodeIds;
    await eventually(async () => {
      const now = await members();
      if (now.length !== 3) throw new Error(`members: ${now.join(', ')}`);
    }, 60_000);
    t.true((await node(third)).metadata.finalizers?.includes('metropolis.monogon.dev/etcd-member'));
    await cluster.kubeConfig
      .makeApiClient(CustomObjectsApi)
      .deleteClusterCustomObject({ ...monogonNodeResource, name: third });
    await eventually(async () => {
      const now = await members();
      if (now.join() !== [first, second].sort().join()) throw new Error(`members: ${now.join()}`);
    }, 60_000);
    await eventually(async () => {
      const gone = await refusal(node(third));
      if (gone.code !== 404) throw new Error(`still there: ${String(gone.code)}`);
    }, 30_000);
    for (const id of [first, second]) {
      await eventually(async () => {
        const found = await node(id);
        if (found.status?.health !== 'HEALTHY') throw new Error(`${id} is not HEALTHY`);
      }, 60_000);
    }
    t.pass('two members left, both healthy');
  },
);

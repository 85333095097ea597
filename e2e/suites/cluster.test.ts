// A launched three-node cluster as its user sees it: every node UP and HEALTHY in kubectl and
// metroctl, invalid MonogonNodes refused by the API server, the management API refusing callers
// without an owner or operator certificate, etcd refusing every certificate but its members' on
// every port, a member cut off from its peers counted unhealthy, roles given and taken with
// metroctl (etcd membership,
// kube-apiservers, operator leadership handed over on a shutdown and taken over on expiry after a
// power loss), roles not built yet reported as such, a node that is shut down, loses power or
// whose agent hangs and is killed coming back by itself, and the whole cluster coming back after
// every node loses power at once (last: it needs them all).
import test from 'ava';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Metadata, credentials, status, type ChannelCredentials } from '@grpc/grpc-js';
import {
  CoordinationV1Api,
  CustomObjectsApi,
  KubeConfig,
  Watch,
  type V1Lease,
} from '@kubernetes/client-node';
import { readyz, type ClientCredentials } from '@metropolis/control-plane';
import {
  certificateRoles,
  controlPlanePorts,
  monogonNodeApiVersion,
  monogonNodeKind,
  monogonNodeResource,
  NodeManagementClient,
  nodeManagementPort,
  systemNamespace,
  type MonogonNode,
  type MonogonNodeHealth,
} from '@metropolis/api';
import {
  checkConsensus,
  eventually,
  launchLeasedCluster,
  loopbackEtcdStatus,
  ownerCredentials,
  partitionEtcdPeers,
  peerMembers,
  peerPortAnswer,
  roleCredentials,
  type LaunchedCluster,
  type LeasedCluster,
} from '../harness/index.js';

const run = promisify(execFile);
let leased: LeasedCluster;
let cluster: LaunchedCluster;

test.before(async () => {
  leased = await launchLeasedCluster({ name: 'e2e' });
  cluster = leased.cluster;
});

test.after.always(() => leased.stop());

async function node(id: string): Promise<MonogonNode> {
  return (await cluster.kubeConfig.makeApiClient(CustomObjectsApi).getClusterCustomObject({
    ...monogonNodeResource,
    name: id,
  })) as MonogonNode;
}

/** The MonogonNode `id` once its status.health is `health`. */
function nodeWithHealth(
  id: string,
  health: MonogonNodeHealth,
  timeoutMs: number,
): Promise<MonogonNode> {
  return eventually(async () => {
    const found = await node(id);
    if (found.status?.health !== health) {
      throw new Error(`${id} is not ${health} yet: ${JSON.stringify(found.status)}`);
    }
    return found;
  }, timeoutMs);
}

/** The pinned kubectl against the cluster, `input` on its stdin; a non-zero exit is returned. */
function kubectl(
  args: readonly string[],
  input = '',
): Promise<{ code: number; stdout: string; stderr: string }> {
  const binary = process.env['METROPOLIS_KUBECTL'] ?? 'kubectl';
  const kube = ['--kubeconfig', cluster.kubeconfigPath, '--context', cluster.contextName];
  return new Promise((resolve, reject) => {
    const child = execFile(binary, [...kube, ...args], (error, stdout, stderr) => {
      if (error === null) resolve({ code: 0, stdout, stderr });
      else if (typeof error.code === 'number') resolve({ code: error.code, stdout, stderr });
      else reject(new Error(`cannot run ${binary}: ${error.message}`, { cause: error }));
    });
    child.stdin?.end(input);
  });
}

async function metroctl(...args: string[]): Promise<string> {
  return (await run(join(cluster.configDir, 'metroctl.sh'), args)).stdout;
}

/** The owner's credentials, as metroctl keeps them. */
function owner(): Promise<ClientCredentials> {
  return ownerCredentials(cluster.configDir);
}

/**
 * Voting members of etcd as the member at `address` sees them: its peer endpoint, asked from
 * the first node with its etcd member certificate (no client API is reachable from outside a
 * node, and a peer certificate works only from its own address).
 */
async function votingMembers(address: string): Promise<string[]> {
  const first = cluster.nodes[0];
  if (first === undefined) throw new Error('no nodes');
  const members = await peerMembers(first, address, await memberCredentials());
  return members
    .filter((member) => !member.isLearner)
    .map((member) => member.name)
    .sort();
}

/** The etcd member certificate of the first node (the CA holder, always a member). */
function memberCredentials(): Promise<ClientCredentials> {
  const first = cluster.nodes[0];
  if (first === undefined) throw new Error('no nodes');
  return roleCredentials(first, 'etcd');
}

/** When the operator last heard node `id`'s agent: its heartbeat Lease's renewTime. */
async function heardMs(id: string): Promise<number> {
  const found = await cluster.kubeConfig.makeApiClient(CoordinationV1Api).readNamespacedLease({
    name: id,
    namespace: systemNamespace,
  });
  return millis(found.spec?.renewTime);
}

/** The operator's lease holder, as the cluster's API tells. */
async function lease(): Promise<string> {
  const found = await cluster.kubeConfig.makeApiClient(CoordinationV1Api).readNamespacedLease({
    name: 'metropolis-operator',
    namespace: systemNamespace,
  });
  return found.spec?.holderIdentity ?? '';
}

/** NodeManagement.GetStatus on the agent at `address` over `tls`: the node ID, or the refusal. */
async function getStatus(
  address: string,
  tls: ChannelCredentials,
): Promise<{ code: status; details: string; nodeId: string }> {
  const client = new NodeManagementClient(`${address}:${String(nodeManagementPort)}`, tls);
  try {
    return await new Promise((resolve) => {
      client.getStatus({}, new Metadata(), { deadline: Date.now() + 10_000 }, (error, answer) => {
        resolve(
          error === null
            ? { code: status.OK, details: '', nodeId: answer.nodeId }
            : { code: error.code, details: error.details, nodeId: '' },
        );
      });
    });
  } finally {
    client.close();
  }
}

test.serial('kubectl and metroctl show three nodes UP and HEALTHY', async (t) => {
  t.is((await kubectl(['get', '--raw', '/readyz'])).stdout, 'ok');
  const { stdout: table } = await kubectl(['get', 'mn']);
  for (const id of cluster.nodeIds)
    t.regex(table, new RegExp(`${id}\\s+UP\\s+10\\.1\\.0\\.\\d+\\s+HEALTHY`));

  const described = await metroctl('node', 'describe');
  const rows = described.split('\n').filter((line) => line.startsWith('metropolis-'));
  t.is(rows.length, 3);
  for (const row of rows) t.regex(row, /\sUP\s+10\.1\.0\.\d+\s+HEALTHY\s/);
  // HEARTBEAT is the node Lease's age: seconds, renewed every 30 s.
  for (const row of rows) t.regex(row, /\s\d+s\s+[AB]$/);
  t.regex(
    described,
    /NODE ID\s+STATE\s+ADDRESS\s+HEALTH\s+ROLES\s+TPM\s+VERSION\s+HEARTBEAT\s+SLOT/,
  );
});

test.serial(
  'the API server refuses an unknown role and a controller without consensus',
  async (t) => {
    const id = `metropolis-${randomBytes(16).toString('hex')}`;
    const apply = (roles: string[]) =>
      kubectl(
        ['apply', '-f', '-'],
        JSON.stringify({
          apiVersion: monogonNodeApiVersion,
          kind: monogonNodeKind,
          metadata: { name: id },
          spec: { roles },
        }),
      );
    const unknown = await apply(['ConsensusMember', 'Gardener']);
    t.not(unknown.code, 0);
    t.regex(
      unknown.stderr,
      /spec\.roles\[1\]: Unsupported value: "Gardener": supported values: "ConsensusMember", "KubernetesController", "KubernetesWorker"/,
    );
    const controller = await apply(['KubernetesController']);
    t.not(controller.code, 0);
    t.regex(
      controller.stderr,
      /spec\.roles: Invalid value: .*the KubernetesController role requires the ConsensusMember role/,
    );
    const missing = await kubectl(['get', 'mn', id]);
    t.not(missing.code, 0);
    t.regex(missing.stderr, /NotFound/, 'neither was created');
  },
);

test.serial(
  'a node agent serves only owner and operator certificates: no certificate, another node refused',
  async (t) => {
    const [, target = '', other = ''] = cluster.nodeIds;
    const address = cluster.endpoints[1] ?? '';
    const { caPem, certificatePem, keyPem } = await owner();
    const ca = Buffer.from(caPem);

    const anonymous = await getStatus(address, credentials.createSsl(ca));
    t.is(anonymous.code, status.UNAVAILABLE, `refused in the handshake: ${anonymous.details}`);

    const data = cluster.nodes[2]?.layout.data ?? '';
    const [nodeCertificate, nodeKey] = await Promise.all([
      readFile(join(data, 'pki', 'node.pem')),
      readFile(join(data, 'identity', 'node-key.pem')),
    ]);
    const byNode = await getStatus(address, credentials.createSsl(ca, nodeKey, nodeCertificate));
    t.is(byNode.code, status.PERMISSION_DENIED, byNode.details);
    t.is(
      byNode.details,
      `${other} (${certificateRoles.node}) may not manage this node: only operator and owner certificates may`,
    );

    const byOwner = await getStatus(
      address,
      credentials.createSsl(ca, Buffer.from(keyPem), Buffer.from(certificatePem)),
    );
    t.is(byOwner.code, status.OK, byOwner.details);
    t.is(byOwner.nodeId, target);
  },
);

test.serial('the bootstrap node reports the roles it runs; joined nodes run none', async (t) => {
  const [first, second] = cluster.nodeIds;
  const bootstrap = await eventually(async () => {
    const found = await node(first ?? '');
    if ((found.status?.runningRoles ?? []).length === 0) throw new Error('no roles reported yet');
    return found;
  });
  t.deepEqual(bootstrap.status?.runningRoles, ['ConsensusMember', 'KubernetesController']);
  t.deepEqual((await node(second ?? '')).status?.runningRoles ?? [], []);
});

test.serial('a role the node cannot run yet is reported as not running, never faked', async (t) => {
  const id = cluster.nodeIds[1] ?? '';
  const { stdout } = await run(join(cluster.configDir, 'metroctl.sh'), [
    'node',
    'add',
    'role',
    'kw',
    id,
  ]);
  t.regex(stdout, new RegExp(`Updated node ${id}`));
  const updated = await eventually(async () => {
    const found = await node(id);
    const condition = found.status?.conditions?.find((c) => c.type === 'RolesApplied');
    if (condition?.status !== 'False') throw new Error('no RolesApplied=False condition yet');
    return { found, condition };
  });
  t.deepEqual(updated.found.spec.roles, ['KubernetesWorker']);
  t.deepEqual(updated.found.status?.runningRoles ?? [], []);
  t.regex(updated.condition.message, /not built yet/);
});

test.serial('ConsensusMember on two more nodes makes three voting etcd members', async (t) => {
  const [first = '', second = '', third = ''] = cluster.nodeIds;
  const address = cluster.endpoints[0] ?? '';
  t.deepEqual(await votingMembers(address), [first]);
  t.regex(await metroctl('node', 'add', 'role', 'cm', second, third), /Updated node/);
  const three = [first, second, third].sort();
  await eventually(async () => {
    const voting = await votingMembers(address);
    if (voting.join() !== three.join()) throw new Error(`voting: ${voting.join(', ')}`);
  }, 90_000);
  const reported = await eventually(async () => {
    const found = await node(third);
    if (!(found.status?.runningRoles ?? []).includes('ConsensusMember')) {
      throw new Error('ConsensusMember not reported running yet');
    }
    return found;
  }, 30_000);
  t.is(
    reported.status?.conditions?.find((c) => c.type === 'RolesApplied')?.status,
    'True',
    'the node runs exactly its roles',
  );
  t.pass('three voting members');
});

/** A TCP connection to `address:port` from the host: 'connected' or the error code. */
function connectFromHost(address: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port, timeout: 5_000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve('timeout');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      resolve(error.code ?? error.message);
    });
  });
}

test.serial(
  "etcd refuses node, owner and operator certificates on every member's client and peer ports",
  async (t) => {
    const [first] = cluster.nodes;
    if (first === undefined) throw new Error('no nodes');
    const etcdCa = (await memberCredentials()).caPem;
    // The etcd CA as the trust anchor of every probe: what is tested is etcd's refusal of the
    // client certificate, not the probe's of etcd's serving one.
    const ownerTls = { ...(await owner()), caPem: etcdCa };
    const operator = { ...(await roleCredentials(first, 'operator')), caPem: etcdCa };
    // From the etcd CA, but kube-apiserver's client certificate: a client, never a peer.
    const apiserverClient = await roleCredentials(first, 'kube-apiserver-etcd-client');
    for (const [index, node] of cluster.nodes.entries()) {
      const address = cluster.endpoints[index] ?? '';
      t.is(
        await connectFromHost(address, controlPlanePorts.etcdClient),
        'ECONNREFUSED',
        `${node.name}: no client port on its address`,
      );
      // Probes run inside the node's namespace, from its own address: its node certificate
      // names that address, so only etcd's trust decides.
      const strangers: Record<string, ClientCredentials> = {
        node: {
          caPem: etcdCa,
          certificatePem: await readFile(join(node.layout.data, 'pki', 'node.pem'), 'utf8'),
          keyPem: await readFile(join(node.layout.data, 'identity', 'node-key.pem'), 'utf8'),
        },
        owner: ownerTls,
        operator,
      };
      const own = await roleCredentials(node, 'etcd');
      t.is(await loopbackEtcdStatus(node, own), 'ok', `${node.name}: its member certificate`);
      t.is(await peerPortAnswer(node, own), 'ok', `${node.name}: a member reaches its peer port`);
      for (const [kind, tls] of Object.entries(strangers)) {
        t.not(
          await loopbackEtcdStatus(node, tls),
          'ok',
          `${node.name}: the ${kind} certificate is refused on loopback`,
        );
        t.not(
          await peerPortAnswer(node, tls),
          'ok',
          `${node.name}: the ${kind} certificate is refused on the peer port`,
        );
      }
      t.not(
        await peerPortAnswer(node, apiserverClient),
        'ok',
        `${node.name}: kube-apiserver's etcd client certificate is no peer`,
      );
    }
    t.is((await kubectl(['get', '--raw', '/readyz'])).stdout, 'ok', 'kube-apiserver still works');
  },
);

test.serial(
  'a member cut off from its peers counts as unhealthy: CheckConsensus and the removal quorum check say so while it still answers its status',
  async (t) => {
    const [first = '', second = '', third = ''] = cluster.nodeIds;
    const [firstAddress = '', , thirdAddress = ''] = cluster.endpoints;
    const victim = cluster.nodes[2];
    if (victim === undefined) throw new Error('no third node');
    const credentials = await owner();
    t.true((await checkConsensus(thirdAddress, credentials)).quorate, 'quorate before');
    const heal = await partitionEtcdPeers(victim);
    try {
      const cut = await eventually(async () => {
        const answer = await checkConsensus(thirdAddress, credentials);
        if (answer.quorate) throw new Error('still quorate');
        return answer;
      }, 30_000);
      t.like(cut, { member: true, serves: true, learner: false, quorate: false });
      t.not(cut.error, '', "etcd's reason");
      t.true((await checkConsensus(firstAddress, credentials)).quorate, 'the majority is');
      // The operator's own view: removing the second member would leave the first and the
      // cut-off third, of which only one is healthy.
      await metroctl('node', 'remove', 'role', 'cm', second);
      const refused = await eventually(async () => {
        const condition = (await node(second)).status?.conditions?.find(
          (c) => c.type === 'RolesApplied',
        );
        if (condition?.reason !== 'Refused') throw new Error(JSON.stringify(condition));
        return condition;
      }, 30_000);
      t.regex(refused.message, /only 1 are healthy/);
      await metroctl('node', 'add', 'role', 'cm', second);
    } finally {
      await heal();
    }
    await eventually(async () => {
      if (!(await checkConsensus(thirdAddress, credentials)).quorate) throw new Error('not yet');
    }, 30_000);
    t.deepEqual(await votingMembers(firstAddress), [first, second, third].sort());
  },
);

test.serial('removing ConsensusMember from one of three leaves two voting members', async (t) => {
  const [first = '', second = '', third = ''] = cluster.nodeIds;
  const address = cluster.endpoints[0] ?? '';
  await metroctl('node', 'remove', 'role', 'cm', third);
  await eventually(async () => {
    const voting = await votingMembers(address);
    if (voting.join() !== [first, second].sort().join()) {
      throw new Error(`voting: ${voting.join(', ')}`);
    }
  }, 60_000);
  const removed = await eventually(async () => {
    const found = await node(third);
    if ((found.status?.runningRoles ?? []).length > 0) throw new Error('still reports roles');
    return found;
  }, 30_000);
  t.deepEqual(removed.spec.roles ?? [], []);
});

/** The operator's leader election Lease, read through the kube-apiserver of the node at `index`. */
async function operatorLease(index: number): Promise<V1Lease> {
  const credentials = await owner();
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: 'c',
        server: `https://${cluster.endpoints[index] ?? ''}:6443`,
        caData: Buffer.from(credentials.caPem).toString('base64'),
      },
    ],
    users: [
      {
        name: 'owner',
        certData: Buffer.from(credentials.certificatePem).toString('base64'),
        keyData: Buffer.from(credentials.keyPem).toString('base64'),
      },
    ],
    contexts: [{ name: 'c', cluster: 'c', user: 'owner' }],
    currentContext: 'c',
  });
  return kc.makeApiClient(CoordinationV1Api).readNamespacedLease({
    name: 'metropolis-operator',
    namespace: systemNamespace,
  });
}

/**
 * A lease time in ms since the epoch; NaN (failing every comparison) when absent. The client
 * hands over the MicroTime string as read, whatever its type says: new Date() takes both.
 */
function millis(time: Date | undefined): number {
  return time === undefined ? Number.NaN : new Date(time).getTime();
}

/** Waits until every node reports KubernetesController running; returns each node's roles. */
function controllersEverywhere(): Promise<Map<string, string[]>> {
  return eventually(async () => {
    const roles = new Map<string, string[]>();
    for (const id of cluster.nodeIds) {
      const running = (await node(id)).status?.runningRoles ?? [];
      if (!running.includes('KubernetesController')) throw new Error(`${id}: ${running.join()}`);
      roles.set(id, running);
    }
    return roles;
  }, 120_000);
}

/** The MonogonNode `id` once it is UP and HEALTHY and runs exactly `roles`. */
function backWithRoles(id: string, roles: readonly string[]): Promise<MonogonNode> {
  return eventually(async () => {
    const found = await node(id);
    const { state, health, runningRoles = [] } = found.status ?? {};
    if (state !== 'UP' || health !== 'HEALTHY' || runningRoles.join() !== roles.join()) {
      throw new Error(`${id} not back yet: ${JSON.stringify(found.status)}`);
    }
    return found;
  }, 180_000);
}

test.serial(
  'three KubernetesControllers serve three kube-apiservers and one operator leader, which hands over gracefully when its node shuts down',
  async (t) => {
    const [, second = '', third = ''] = cluster.nodeIds;
    await metroctl('node', 'add', 'role', 'cm', third);
    await metroctl('node', 'add', 'role', 'kc', second, third);
    const credentials = await owner();
    await eventually(async () => {
      const answers = await Promise.all(
        cluster.endpoints.map((address) =>
          readyz(`https://${address}:6443`, credentials).catch((error: unknown) => String(error)),
        ),
      );
      if (answers.some((answer) => answer !== 'ok')) throw new Error(answers.join('; '));
    }, 120_000);
    t.pass('every node serves the Kubernetes API');
    await controllersEverywhere();

    const before = (await operatorLease(0)).spec?.holderIdentity ?? '';
    t.true(cluster.nodeIds.includes(before), `the leader ${before} is one of the nodes`);
    const index = cluster.nodeIds.indexOf(before);
    const victim = cluster.nodes[index];
    if (victim === undefined) throw new Error('no leader node');
    const survivor = index === 0 ? 1 : 0;
    const boots = (await victim.boots()).length;
    // A shutdown is SIGTERM: the operator releases its Lease on the way out.
    await victim.shutdown();
    const after = await eventually(async () => {
      const holder = (await operatorLease(survivor)).spec?.holderIdentity ?? '';
      if (holder === before || holder === '') throw new Error(`held by "${holder}"`);
      return holder;
    }, 90_000);
    t.true(cluster.nodeIds.includes(after), 'another node leads');
    await victim.powerOn();
    await victim.waitForBoot(boots + 1, 30_000);
    await nodeWithHealth(before, 'HEALTHY', 120_000);
  },
);

test.serial(
  'etcd killed on a member: the node is UNHEALTHY naming the etcd check until the agent has restarted it',
  async (t) => {
    // Any member but the operator leader's node: its API server and etcd member write statuses.
    const holder = await lease();
    const index = cluster.nodeIds.findIndex((id) => id !== holder && id !== cluster.nodeIds[0]);
    const id = cluster.nodeIds[index] ?? '';
    await nodeWithHealth(id, 'HEALTHY', 60_000);
    const seen: MonogonNode[] = [];
    const watch = await new Watch(cluster.kubeConfig).watch(
      `/apis/${monogonNodeResource.apiVersion}/${monogonNodeResource.plural}`,
      { fieldSelector: `metadata.name=${id}` },
      (_type: string, object: MonogonNode) => {
        seen.push(object);
      },
      () => undefined,
    );
    t.teardown(() => {
      watch.abort();
    });
    const data = join(leased.dir, 'cluster', `${leased.prefix}-${String(index)}`, 'data', 'etcd');
    const { stdout } = await run('pgrep', ['-f', `data-dir=${data} `]);
    const pids = stdout.split('\n').filter(Boolean).map(Number);
    t.is(pids.length, 1, 'one etcd process on the node');
    process.kill(pids[0] ?? 0, 'SIGKILL');

    const unhealthy = await eventually(() => {
      const found = seen.find((object) => object.status?.health === 'UNHEALTHY');
      if (found === undefined) throw new Error('not reported UNHEALTHY yet');
      return Promise.resolve(found);
    }, 30_000);
    const etcd = unhealthy.status?.healthChecks?.find((check) => check.name === 'etcd');
    t.false(etcd?.ok);
    // Whichever the agent saw first: the process's exit, or its check's read cut off by the kill.
    const etcdDown = /^(?:not running: exited \(signal SIGKILL\)|running \(pid \d+\), but .+)/;
    t.regex(etcd?.message ?? '', etcdDown);
    t.deepEqual(
      (unhealthy.status?.healthChecks ?? []).filter((check) => !check.ok).map((c) => c.name),
      ['etcd'],
      'only the etcd check fails',
    );
    t.regex(
      unhealthy.status?.conditions?.find((c) => c.type === 'Ready')?.message ?? '',
      /etcd: (?:not running: exited|running \(pid \d+\), but )/,
    );

    const back = await nodeWithHealth(id, 'HEALTHY', 60_000);
    const restarted = back.status?.healthChecks?.find((check) => check.name === 'etcd');
    t.true(restarted?.ok);
    t.regex(restarted?.message ?? '', /serves quorum reads/);
    const details = await metroctl('node', 'describe', id);
    for (const name of [
      'data-partition',
      'clock',
      'trial',
      'release',
      'etcd',
      'kube-apiserver',
      'operator',
    ]) {
      t.regex(details, new RegExp(`^  ${name} +ok `, 'm'), `describe shows ${name}`);
    }
  },
);

test.serial(
  'when the operator leader loses power, its lease moves only once expired; powered on, its node is back UP and HEALTHY with its roles',
  async (t) => {
    const roles = await controllersEverywhere();
    // The last record the dead leader wrote: at least this one, then the latest seen while it
    // still holds the lease.
    let last = (await operatorLease(0)).spec ?? {};
    const holder = last.holderIdentity ?? '';
    const index = cluster.nodeIds.indexOf(holder);
    const victim = cluster.nodes[index];
    if (victim === undefined) throw new Error(`the leader "${holder}" is none of the nodes`);
    const survivor = index === 0 ? 1 : 0;
    const boots = (await victim.boots()).length;
    // Every process of the node killed at once, and it stays off: nothing releases the Lease.
    await victim.powerOff();

    const after = await eventually(async () => {
      const spec = (await operatorLease(survivor)).spec ?? {};
      if (spec.holderIdentity === holder) {
        last = spec;
        throw new Error(`still held by ${holder}`);
      }
      return spec;
    }, 120_000);
    t.true(
      after.holderIdentity !== undefined && cluster.nodeIds.includes(after.holderIdentity),
      `another node leads: "${after.holderIdentity ?? ''}"`,
    );
    const expired = millis(last.renewTime) + (last.leaseDurationSeconds ?? Number.NaN) * 1000;
    const acquired = millis(after.acquireTime);
    t.true(
      acquired >= expired,
      `acquired at ${new Date(acquired).toISOString()}, not before the lease expired at ${new Date(expired).toISOString()}`,
    );
    t.is(after.leaseTransitions, (last.leaseTransitions ?? 0) + 1, 'taken over, not released');

    await victim.powerOn();
    t.is((await victim.waitForBoot(boots + 1, 30_000)).outcome, 'started');
    await backWithRoles(holder, roles.get(holder) ?? []);
    t.pass('UP, HEALTHY and running its roles again');
  },
);

test.serial(
  'a joined node that is shut down times out its heartbeat and comes back UP',
  async (t) => {
    const id = cluster.nodeIds[2] ?? '';
    const target = cluster.nodes[2];
    if (!target) throw new Error('no third node');
    const boots = (await target.boots()).length;
    await target.shutdown();
    await nodeWithHealth(id, 'HEARTBEAT_TIMEOUT', 60_000);
    t.pass('heartbeat timed out while the node was off');
    await target.powerOn();
    await target.waitForBoot(boots + 1, 30_000);
    const back = await nodeWithHealth(id, 'HEALTHY', 120_000);
    t.is(back.status?.state, 'UP');
  },
);

test.serial(
  'a joined node that loses power times out its heartbeat; powered on, it is back UP and HEALTHY with its roles',
  async (t) => {
    const roles = await controllersEverywhere();
    const id = cluster.nodeIds[2] ?? '';
    const target = cluster.nodes[2];
    if (!target) throw new Error('no third node');
    const boots = (await target.boots()).length;
    await target.powerOff();
    await nodeWithHealth(id, 'HEARTBEAT_TIMEOUT', 60_000);
    t.pass('heartbeat timed out while the node was off');
    await target.powerOn();
    t.is((await target.waitForBoot(boots + 1, 30_000)).outcome, 'started');
    await backWithRoles(id, roles.get(id) ?? []);
    t.pass('UP, HEALTHY and running its roles again');
  },
);

test.serial(
  'a node whose agent hangs times out its heartbeat; killed, the agent reboots the node, HEALTHY again',
  async (t) => {
    const id = cluster.nodeIds[1] ?? '';
    const target = cluster.nodes[1];
    if (!target) throw new Error('no second node');
    const boots = (await target.boots()).length;
    // A killed agent is back in about 3 s, within the 10 s heartbeat timeout, so the heartbeat
    // never times out; a hung one (SIGSTOP) is silent until it is killed.
    target.signalAgent('SIGSTOP');
    await nodeWithHealth(id, 'HEARTBEAT_TIMEOUT', 60_000);
    t.is((await target.boots()).length, boots, 'a hung agent reboots nothing by itself');
    target.signalAgent('SIGKILL');
    t.is((await target.waitForBoot(boots + 1, 30_000)).outcome, 'started');
    t.regex(
      await readFile(target.layout.consoleLog, 'utf8'),
      /kernel: the agent exited \(signal SIGKILL\); rebooting/,
    );
    const back = await nodeWithHealth(id, 'HEALTHY', 120_000);
    t.is(back.status?.state, 'UP');
  },
);

test.serial(
  'after every node loses power at once, the cluster comes back: Kubernetes API, nodes HEALTHY',
  async (t) => {
    // The roles each node runs once all run again after the tests before (a reboot restarts them).
    const roles = await controllersEverywhere();
    const boots = await Promise.all(cluster.nodes.map(async (each) => (await each.boots()).length));
    const cutAt = Date.now();
    // powerCut kills every process of a node at once, then powers it on again.
    await Promise.all(cluster.nodes.map((each) => each.powerCut()));
    const booted = await Promise.all(
      cluster.nodes.map((each, index) => each.waitForBoot((boots[index] ?? 0) + 1, 30_000)),
    );
    t.true(booted.every((record) => record.outcome === 'started'));

    await eventually(async () => {
      const { stdout, stderr } = await kubectl(['get', '--raw', '/readyz']);
      if (stdout !== 'ok') throw new Error(`readyz: ${stdout} ${stderr}`);
    }, 180_000);
    t.pass('the Kubernetes API answers again');
    await eventually(async () => {
      for (const id of cluster.nodeIds) {
        const { status: found } = await node(id);
        const heard = await heardMs(id);
        if (found?.state !== 'UP' || found.health !== 'HEALTHY' || !(heard >= cutAt)) {
          throw new Error(`${id} not back yet: ${JSON.stringify(found)}`);
        }
        const running = found.runningRoles ?? [];
        if (running.join() !== (roles.get(id) ?? []).join()) {
          throw new Error(`${id} runs ${running.join()}, not ${(roles.get(id) ?? []).join()} yet`);
        }
      }
    }, 180_000);
    t.pass('every node UP and HEALTHY, heard from since the cut, running its roles again');
  },
);

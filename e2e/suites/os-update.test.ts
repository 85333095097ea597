// OS updates on a launched three-node cluster, as an operator of the cluster checks them: an
// OSUpdate rolls v0.1.0 -> v0.2.0 over every node (the operator's own node included) with etcd
// keeping quorum, each node ends on its other slot with BootOrder committed in its efivars; a
// bundle with a bad signature or hash is refused at staging and nothing reboots; a broken
// release rolls back by itself and halts; Revert takes committed nodes back; a killed operator
// resumes without rebooting a node twice; a paused update waits.
import test from 'ava';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CustomObjectsApi, PatchStrategy, Watch, setHeaderOptions } from '@kubernetes/client-node';
import {
  monogonNodeResource,
  osUpdateGroup,
  osUpdatePlural,
  osUpdateResource,
  osUpdateVersion,
  type MonogonNode,
  type OSUpdate,
  type OSUpdateSpec,
} from '@metropolis/api';
import { BundleHttpServer } from '@metropolis/bundle';
import type { ClientCredentials } from '@metropolis/control-plane';
import { BootVariables, EfiVarStore, readBootConfiguration } from '@metropolis/efi';
import { KeyPair } from '@metropolis/pki';
import { neverWithin } from '@metropolis/testing';
import {
  buildBundle,
  checkConsensus,
  createOSUpdate,
  eventually,
  launchLeasedCluster,
  ownerCredentials,
  peerMembers,
  roleCredentials,
  type LaunchedCluster,
  type LeasedCluster,
} from '../harness/index.js';

const run = promisify(execFile);
let leased: LeasedCluster;
let cluster: LaunchedCluster;
let dir: string;
let prefix: string;
let server: BundleHttpServer;

/** The agent's trial watchdog: a node that is never committed falls back after this long. */
const trialTimeoutSeconds = 25;

test.before(async () => {
  leased = await launchLeasedCluster({
    name: 'e2e-update',
    agentArgs: ['--trial-timeout', String(trialTimeoutSeconds)],
  });
  ({ cluster, dir, prefix } = leased);
  server = await BundleHttpServer.start({ host: leased.lease.hostAddress });
});

test.after.always(async () => {
  await server.close();
  await leased.stop();
});

const objects = (): CustomObjectsApi => cluster.kubeConfig.makeApiClient(CustomObjectsApi);
const updates = osUpdateResource;
const nodesApi = monogonNodeResource;

async function node(id: string): Promise<MonogonNode> {
  return (await objects().getClusterCustomObject({ ...nodesApi, name: id })) as MonogonNode;
}

async function osUpdate(name: string): Promise<OSUpdate> {
  return (await objects().getClusterCustomObject({ ...updates, name })) as OSUpdate;
}

function createUpdate(name: string, spec: OSUpdateSpec): Promise<void> {
  return createOSUpdate(cluster.kubeConfig, name, spec);
}

/** Waits for the update to reach one of `phases`; returns it. */
async function untilPhase(name: string, phases: readonly string[], timeoutMs: number) {
  return eventually(
    async () => {
      const found = await osUpdate(name);
      if (!phases.includes(found.status?.phase ?? '')) {
        throw new Error(
          `${name}: ${found.status?.phase ?? 'no phase'}: ${found.status?.summary ?? ''}`,
        );
      }
      return found;
    },
    timeoutMs,
    1000,
  );
}

/** The update's phase, summary and node entries, for a failure message. */
function describe(update: OSUpdate): string {
  const status = update.status;
  const entries = (status?.nodes ?? []).map(
    (entry) => `${entry.node}: ${entry.phase ?? '?'} ${entry.reason ?? ''} ${entry.message ?? ''}`,
  );
  return [`${status?.phase ?? 'no phase'}: ${status?.summary ?? ''}`, ...entries].join('\n  ');
}

/** How many times each node booted so far. */
async function bootCounts(): Promise<number[]> {
  return Promise.all(cluster.nodes.map(async (n) => (await n.boots()).length));
}

/** The owner's credentials, as metroctl keeps them. */
function owner(): Promise<ClientCredentials> {
  return ownerCredentials(cluster.configDir);
}

/** BootCurrent, BootNext and BootOrder of node `index`, read from its efivars files. */
async function efi(index: number) {
  const store = new EfiVarStore(join(dir, 'cluster', `${prefix}-${String(index)}`, 'efivars'));
  const config = await readBootConfiguration(new BootVariables(store));
  const slotOf = (id: string | null | undefined): string | undefined =>
    config.entries.find((entry) => entry.id === id)?.description.replace('Metropolis Slot ', '');
  return {
    current: slotOf(config.bootCurrent),
    next: slotOf(config.bootNext),
    first: slotOf(config.bootOrder[0]),
  };
}

test.serial(
  'v0.1.0 -> v0.2.0 over three consensus members: every node on its other slot, committed, etcd quorate throughout',
  async (t) => {
    const [first = '', second = '', third = ''] = cluster.nodeIds;
    await run(join(cluster.configDir, 'metroctl.sh'), ['node', 'add', 'role', 'cm', second, third]);
    const credentials = await owner();
    const [firstNode] = cluster.nodes;
    if (firstNode === undefined) throw new Error('no nodes');
    const member = await roleCredentials(firstNode, 'etcd');
    await eventually(async () => {
      const members = await peerMembers(firstNode, cluster.endpoints[0] ?? '', member);
      if (members.filter((m) => !m.isLearner).length !== 3) throw new Error('not three voters');
    }, 90_000);
    const before = await Promise.all([0, 1, 2].map(efi));
    const boots = await bootCounts();
    const bundle = await server.serve(await buildBundle(dir, 'v0.2.0'));

    // Sample etcd health from every member while the rollout runs: a member counts as up when
    // its agent says it serves a linearizable (quorum) read (CheckConsensus, as the owner:
    // etcd's client API is on each node's loopback), as `etcdctl endpoint health` checks.
    const sampling = { on: true };
    const samples: { at: number; healthy: number }[] = [];
    const sampler = (async () => {
      while (sampling.on) {
        const healthy = await Promise.all(
          cluster.endpoints.map((address) =>
            checkConsensus(address, credentials, 3000).then(
              (answer) => (answer.quorate ? 1 : 0),
              () => 0,
            ),
          ),
        );
        samples.push({ at: Date.now(), healthy: healthy.reduce((a, b) => a + b, 0) });
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })();
    await createUpdate('to-v0-2-0', {
      version: 'v0.2.0',
      bundle: { url: bundle.url, sha256: bundle.sha256 },
    });
    const done = await untilPhase('to-v0-2-0', ['Succeeded', 'Halted'], 600_000).finally(() => {
      sampling.on = false;
    });
    await sampler;
    t.is(done.status?.phase, 'Succeeded', done.status?.summary);
    t.is(done.status?.updated, '3/3');
    for (const entry of done.status?.nodes ?? []) {
      t.is(entry.phase, 'Committed', `${entry.node}: ${entry.message ?? ''}`);
      t.is(entry.fromVersion, 'v0.1.0');
      t.is(entry.toVersion, 'v0.2.0');
    }
    const after = await Promise.all([0, 1, 2].map(efi));
    for (const [index, was] of before.entries()) {
      const now = after[index];
      t.truthy(now);
      t.not(now?.current, was.current, `node ${String(index)} booted its other slot`);
      t.is(now?.first, now?.current, `node ${String(index)} has BootOrder committed`);
      t.is(now?.next, undefined, `node ${String(index)} has no BootNext left`);
    }
    for (const id of [first, second, third]) t.is((await node(id)).status?.version, 'v0.2.0');
    const rebooted = await bootCounts();
    t.deepEqual(
      rebooted.map((count, index) => count - (boots[index] ?? 0)),
      [1, 1, 1],
      'every node rebooted exactly once',
    );
    const quorumLost = samples.filter((sample) => sample.healthy < 2);
    t.true(samples.length > 10, 'etcd was sampled throughout');
    t.deepEqual(quorumLost, [], 'at least two of three members healthy at every sample');
  },
);

test.serial(
  'a bundle with a bad signature or a wrong hash is refused at staging; nothing reboots',
  async (t) => {
    const boots = await bootCounts();
    const rogueKey = await KeyPair.generate();
    const rogue = await server.serve(
      await buildBundle(join(dir, 'cluster'), 'v0.9.0', {
        signingKeyPem: await rogueKey.privateKeyPem(),
      }),
    );
    await createUpdate('rogue-signature', {
      version: 'v0.9.0',
      bundle: { url: rogue.url, sha256: rogue.sha256 },
    });
    const refused = await untilPhase('rogue-signature', ['Halted'], 120_000);
    const entries = refused.status?.nodes ?? [];
    t.true(entries.some((entry) => entry.reason === 'StageFailed'));
    t.regex(
      entries.find((entry) => entry.reason === 'StageFailed')?.message ?? '',
      /signature|key/i,
    );
    t.false(entries.some((entry) => entry.phase === 'Rebooting' || entry.phase === 'Committed'));

    const good = await server.serve(await buildBundle(join(dir, 'cluster'), 'v0.9.1'));
    await createUpdate('wrong-hash', {
      version: 'v0.9.1',
      bundle: { url: good.url, sha256: 'f'.repeat(64) },
    });
    const wrong = await untilPhase('wrong-hash', ['Halted'], 120_000);
    t.regex(
      (wrong.status?.nodes ?? []).find((entry) => entry.reason === 'StageFailed')?.message ?? '',
      /sha256|hash/i,
    );
    t.deepEqual(await bootCounts(), boots, 'no node rebooted');
    for (const id of cluster.nodeIds) t.is((await node(id)).status?.version, 'v0.2.0');
  },
);

/** Merge-patches an OSUpdate's spec. */
async function patchUpdate(name: string, spec: Partial<OSUpdateSpec>): Promise<void> {
  await objects().patchClusterCustomObject(
    { ...updates, name, body: { spec } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

/**
 * Resolves with the first status in which `check` finds what it looks for, watching the object
 * so that even a phase that lasts a second (Rebooting of a process node) is seen.
 */
async function untilStatus<T>(
  name: string,
  check: (update: OSUpdate) => T | undefined,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await osUpdate(name);
  for (;;) {
    const found = check(last);
    if (found !== undefined) return found;
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new Error(`${name}: not yet: ${describe(last)}`);
    const seen = await new Promise<T | undefined>((resolve, reject) => {
      const timer = setTimeout(() => {
        void request.then((watch) => {
          watch.abort();
        });
        resolve(undefined);
      }, remaining);
      const request = new Watch(cluster.kubeConfig).watch(
        `/apis/${osUpdateGroup}/${osUpdateVersion}/${osUpdatePlural}`,
        { fieldSelector: `metadata.name=${name}` },
        (_type: string, object: OSUpdate) => {
          last = object;
          const match = check(object);
          if (match === undefined) return;
          clearTimeout(timer);
          void request.then((watch) => {
            watch.abort();
          });
          resolve(match);
        },
        () => {
          // The watch ended (a timeout of the API server's): look again with a new one.
          clearTimeout(timer);
          resolve(undefined);
        },
      );
      request.catch(reject);
    });
    if (seen !== undefined) return seen;
    last = await osUpdate(name);
  }
}

/** SIGKILLs the operator process of node 0 (found by its system image path). */
async function killOperator(): Promise<number> {
  const rootfs = join(dir, 'cluster', `${prefix}-0`, 'run', 'rootfs', 'operator.mjs');
  const { stdout } = await run('pgrep', ['-f', rootfs]);
  const pids = stdout.split('\n').filter(Boolean).map(Number);
  for (const pid of pids) process.kill(pid, 'SIGKILL');
  return pids.length;
}

/** The label that puts nodes 1 and 2 in the workers pool. */
const pool = { 'example.com/pool': 'workers' };

/**
 * Nodes 1 and 2 leave consensus (they were made members for the first rollout) and are
 * labelled as a pool: the tests from here on update them without etcd being involved.
 */
async function nodesOneAndTwoAsPool(): Promise<void> {
  const [, second = '', third = ''] = cluster.nodeIds;
  await run(join(cluster.configDir, 'metroctl.sh'), [
    'node',
    'remove',
    'role',
    'cm',
    second,
    third,
  ]);
  for (const id of [second, third]) {
    await objects().patchClusterCustomObject(
      { ...nodesApi, name: id, body: { metadata: { labels: pool } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }
  await eventually(async () => {
    for (const id of [second, third]) {
      if (((await node(id)).status?.runningRoles ?? []).length > 0) throw new Error(id);
    }
  }, 90_000);
}

test.serial(
  'a release that never becomes healthy rolls its first node back by itself, and the rollout halts',
  async (t) => {
    await nodesOneAndTwoAsPool();
    const boots = await bootCounts();
    const running = (await node(cluster.nodeIds[1] ?? '')).status?.version;
    const broken = await server.serve(await buildBundle(dir, 'v0.3.0', { healthCheck: 'fail' }));
    await createUpdate('broken-v0-3-0', {
      version: 'v0.3.0',
      bundle: { url: broken.url, sha256: broken.sha256 },
      strategy: { healthTimeout: '5m' },
    });
    const halted = await untilPhase('broken-v0-3-0', ['Halted', 'Succeeded'], 300_000);
    t.is(halted.status?.phase, 'Halted', halted.status?.summary);
    const entries = halted.status?.nodes ?? [];
    const rolledBack = entries.filter((entry) => entry.phase === 'RolledBack');
    t.is(rolledBack.length, 1, 'one node tried it');
    const victim = rolledBack[0];
    t.is(victim?.fromVersion, running);
    t.regex(halted.status?.summary ?? '', /CameBackOnOldSlot/);
    await eventually(async () => {
      const found = await node(victim?.node ?? '');
      if (found.status?.version !== running || found.status?.bootedSlot !== victim?.fromSlot) {
        throw new Error(`${String(found.status?.version)} on ${String(found.status?.bootedSlot)}`);
      }
    }, 30_000);
    t.pass('back on its old version and slot');
    const after = await bootCounts();
    for (const [index, id] of cluster.nodeIds.entries()) {
      const expected = id === victim?.node ? 2 : 0;
      t.is(
        (after[index] ?? 0) - (boots[index] ?? 0),
        expected,
        `${id} booted ${String(expected)}x`,
      );
    }
  },
);

test.serial(
  'with failurePolicy Revert, a node that does not come back takes the committed ones back',
  async (t) => {
    const good = await server.serve(await buildBundle(dir, 'v0.3.1'));
    const [, second = '', third = ''] = cluster.nodeIds;
    const running = (await node(second)).status?.version;
    await createUpdate('revert-v0-3-1', {
      version: 'v0.3.1',
      bundle: { url: good.url, sha256: good.sha256 },
      // Only the two workers, so etcd is not involved.
      nodeSelector: { matchLabels: pool },
      strategy: { failurePolicy: 'Revert', bootTimeout: '30s', healthTimeout: '30s' },
    });
    // The first worker commits; the second stops answering the moment it is told to reboot
    // (its agent frozen), so it is not back within bootTimeout, or not healthy within
    // healthTimeout if the reboot got through first, and fails.
    const { committed, other } = await untilStatus(
      'revert-v0-3-1',
      (update) => {
        const entries = update.status?.nodes ?? [];
        const done = entries.find((entry) => entry.phase === 'Committed');
        const next = entries.find((entry) => entry.phase === 'Rebooting');
        return done && next ? { committed: done, other: next.node } : undefined;
      },
      300_000,
    );
    t.true([second, third].includes(other));
    const frozen = cluster.nodes[cluster.nodeIds.indexOf(other)];
    if (frozen === undefined) throw new Error('no such node');
    // Thawed whatever happens, so that a failure here does not hang the tests after it.
    t.teardown(() => {
      if (frozen.state === 'running') frozen.signalAgent('SIGCONT');
    });
    // Between two boots no agent runs for a moment: freeze the next one.
    await eventually(
      () => {
        frozen.signalAgent('SIGSTOP');
        return Promise.resolve();
      },
      10_000,
      50,
    );
    const reverted = await untilPhase('revert-v0-3-1', ['Reverted', 'Halted'], 300_000);
    t.is(reverted.status?.phase, 'Reverted', reverted.status?.summary);
    const entries = reverted.status?.nodes ?? [];
    const failed = entries.find((entry) => entry.node === other);
    t.is(failed?.phase, 'Failed');
    t.regex(failed?.reason ?? '', /^(BootTimeout|HealthTimeout)$/, failed?.message);
    t.is(entries.length, 2, 'only the selected pool');
    t.like(
      entries.find((entry) => entry.node === committed.node),
      { phase: 'Reverted' },
    );
    await eventually(async () => {
      const version = (await node(committed.node)).status?.version;
      if (version !== running) throw new Error(`${committed.node} runs ${String(version)}`);
    }, 60_000);
    // Thawed, the frozen node finds its trial boot (if it got that far) uncommitted and falls back.
    frozen.signalAgent('SIGCONT');
    await eventually(async () => {
      const found = await node(other);
      if (found.status?.health !== 'HEALTHY') throw new Error('not healthy');
    }, 180_000);
  },
);

test.serial(
  'an operator killed while a node is Rebooting and again while one is Verifying resumes; no node reboots twice; its own node updates too',
  async (t) => {
    const boots = await bootCounts();
    const bundle = await server.serve(await buildBundle(dir, 'v0.4.0'));
    await createUpdate('to-v0-4-0', {
      version: 'v0.4.0',
      bundle: { url: bundle.url, sha256: bundle.sha256 },
    });
    for (const phase of ['Rebooting', 'Verifying']) {
      const entry = await untilStatus(
        'to-v0-4-0',
        (update) => (update.status?.nodes ?? []).find((candidate) => candidate.phase === phase),
        300_000,
      );
      t.true((await killOperator()) > 0, `killed the operator while ${entry.node} was ${phase}`);
    }
    const done = await untilPhase('to-v0-4-0', ['Succeeded', 'Halted'], 600_000);
    t.is(done.status?.phase, 'Succeeded', done.status?.summary);
    const after = await bootCounts();
    t.deepEqual(
      after.map((count, index) => count - (boots[index] ?? 0)),
      [1, 1, 1],
      "each node rebooted exactly once, the operator's own node included",
    );
    for (const id of cluster.nodeIds) t.is((await node(id)).status?.version, 'v0.4.0');
  },
);

test.serial('a paused OSUpdate makes no progress until it is resumed', async (t) => {
  const boots = await bootCounts();
  const bundle = await server.serve(await buildBundle(dir, 'v0.5.0'));
  await createUpdate('paused-v0-5-0', {
    version: 'v0.5.0',
    bundle: { url: bundle.url, sha256: bundle.sha256 },
    paused: true,
  });
  const paused = await untilPhase('paused-v0-5-0', ['Paused'], 60_000);
  t.is((paused.status?.nodes ?? []).length, 3, 'every node is listed');
  // For a while (several reconciles): still Paused, every node Pending, nothing rebooted.
  await neverWithin(
    10_000,
    async () => {
      const { phase, nodes = [] } = (await osUpdate('paused-v0-5-0')).status ?? {};
      const moved = nodes.filter((entry) => entry.phase !== 'Pending');
      if (phase !== 'Paused' || nodes.length !== 3 || moved.length > 0) {
        return `${String(phase)}: ${JSON.stringify(nodes)}`;
      }
      const now = await bootCounts();
      return now.join() === boots.join() ? undefined : `booted: ${now.join()}, was ${boots.join()}`;
    },
    1_000,
  );
  t.pass('nothing staged, nothing rebooted');
  await patchUpdate('paused-v0-5-0', { paused: false });
  const done = await untilPhase('paused-v0-5-0', ['Succeeded', 'Halted'], 600_000);
  t.is(done.status?.phase, 'Succeeded', done.status?.summary);
});

test.serial(
  'a release whose kube-apiserver cannot start fails verification on the kube-apiserver check and falls back',
  async (t) => {
    const [, second = '', third = ''] = cluster.nodeIds;
    // Node 1 becomes a controller; node 2 a consensus member, so etcd keeps quorum meanwhile.
    const metroctl = join(cluster.configDir, 'metroctl.sh');
    await run(metroctl, ['node', 'add', 'role', 'cm', second, third]);
    await run(metroctl, ['node', 'add', 'role', 'kc', second]);
    const canary = { 'example.com/canary': 'apiserver' };
    await objects().patchClusterCustomObject(
      { ...nodesApi, name: second, body: { metadata: { labels: canary } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const before = await eventually(async () => {
      const found = await node(second);
      if (!(found.status?.runningRoles ?? []).includes('KubernetesController')) {
        throw new Error(`${second} runs ${(found.status?.runningRoles ?? []).join()}`);
      }
      if (found.status?.health !== 'HEALTHY') throw new Error(`${second} is not HEALTHY`);
      return found;
    }, 180_000);
    const running = before.status?.version;

    // The release adds a flag this kube-apiserver does not know: it exits at once, every time.
    const bundle = await server.serve(
      await buildBundle(dir, 'v0.6.0', {
        kubeApiserverArgs: ['--no-such-flag=true'],
        fileName: 'v0.6.0-bad-apiserver',
      }),
    );
    await createUpdate('bad-apiserver-v0-6-0', {
      version: 'v0.6.0',
      bundle: { url: bundle.url, sha256: bundle.sha256 },
      nodeSelector: { matchLabels: canary },
      strategy: { healthTimeout: '5m' },
    });
    const waiting = await untilStatus(
      'bad-apiserver-v0-6-0',
      (update) =>
        (update.status?.nodes ?? []).find(
          (entry) =>
            entry.reason === 'WaitingForHealth' &&
            /kube-apiserver: not running: exited \(exit code 1\)/.test(entry.message ?? ''),
        ),
      300_000,
    );
    t.is(waiting.node, second);
    t.regex(waiting.message ?? '', /^Back on slot [AB] with v0\.6\.0; waiting until /);
    t.notRegex(
      waiting.unhealthyOnTarget ?? '',
      /release:/,
      "the kube-apiserver check failed, not the release's own declaration",
    );

    const halted = await untilPhase('bad-apiserver-v0-6-0', ['Halted', 'Succeeded'], 300_000);
    t.is(halted.status?.phase, 'Halted', describe(halted));
    const entry = (halted.status?.nodes ?? []).find((candidate) => candidate.node === second);
    t.is(entry?.phase, 'RolledBack', describe(halted));
    t.regex(
      entry?.message ?? '',
      /On slot [AB] it was not healthy: the node agent reports unhealthy: .*kube-apiserver: not running: exited \(exit code 1\)/,
    );
    // Back on the old release, its kube-apiserver serves again and the node is healthy.
    const back = await eventually(async () => {
      const found = await node(second);
      const apiserver = found.status?.healthChecks?.find((c) => c.name === 'kube-apiserver');
      if (
        found.status?.version !== running ||
        found.status?.health !== 'HEALTHY' ||
        !apiserver?.ok
      ) {
        throw new Error(`${String(found.status?.version)} ${String(found.status?.health)}`);
      }
      return found;
    }, 120_000);
    t.is(back.status?.bootedSlot, entry?.fromSlot);
  },
);

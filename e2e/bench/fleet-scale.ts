// Benchmark: the operator at fleet scale. A launched two-node cluster (real etcd, kube-apiserver,
// operator) gets N hollow nodes (the real agent over simulated hardware, docs/hollow-nodes.md).
// Measured per N: the operator's RSS and CPU seconds (idle, with N nodes watched, after the
// rollout), kube-apiserver requests per node (from its /metrics, by verb and resource) while
// idle and over a rollout, the time from creating an OSUpdate with maxUnavailable 10% to
// Succeeded against the theoretical minimum (steps x simulated reboot time), and the time for a
// role change on the second real node while the N hollow nodes are watched.
// Usage: fleet-scale.ts [count...] (default 100 500).
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import {
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import {
  monogonNodeResource,
  osUpdateGroup,
  osUpdateResource,
  osUpdateVersion,
  type MonogonNode,
  type OSUpdate,
} from '@metropolis/api';
import { BundleHttpServer } from '@metropolis/bundle';
import {
  buildBundle,
  eventually,
  launchLeasedCluster,
  startHollowFleet,
  type LaunchedCluster,
} from '../harness/index.js';

const run = promisify(execFile);
const counts = process.argv.slice(2).map(Number);
const rebootTimeMs = 2000;
const label = { 'bench.metropolis.dev/fleet': 'hollow' };
/** USER_HZ: /proc/<pid>/stat counts CPU time in these. */
const clockTicksPerSecond = 100;

interface Sample {
  readonly rssMiB: number;
  readonly hwmMiB: number;
  readonly cpuSeconds: number;
}

/** The operator process: in node 0's network namespace, running operator.mjs. */
async function operatorPid(cluster: LaunchedCluster): Promise<number> {
  const { stdout } = await run('ip', ['netns', 'pids', cluster.nodes[0]?.netns ?? '']);
  for (const pid of stdout.split('\n').filter((line) => /^\d+$/.test(line))) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes('operator.mjs')) return Number(pid);
  }
  throw new Error('no operator process in node 0');
}

async function sample(pid: number): Promise<Sample> {
  const status = await readFile(`/proc/${String(pid)}/status`, 'utf8');
  const kib = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1]);
  // Fields after the command (which may hold spaces) start after the last ')'.
  const stat = (await readFile(`/proc/${String(pid)}/stat`, 'utf8')).split(') ')[1]?.split(' ');
  const ticks = Number(stat?.[11]) + Number(stat?.[12]);
  return {
    rssMiB: kib('VmRSS') / 1024,
    hwmMiB: kib('VmHWM') / 1024,
    cpuSeconds: ticks / clockTicksPerSecond,
  };
}

/** apiserver_request_total summed by `verb resource/subresource`. */
async function apiserverRequests(kubeConfig: KubeConfig): Promise<Map<string, number>> {
  const server = new URL(kubeConfig.getCurrentCluster()?.server ?? '');
  const options = {
    hostname: server.hostname,
    port: server.port,
    path: '/metrics',
    method: 'GET',
  };
  await kubeConfig.applyToHTTPSOptions(options);
  const text = await new Promise<string>((resolve, reject) => {
    const req = request(options, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        if (response.statusCode === 200) resolve(body);
        else reject(new Error(`/metrics: ${String(response.statusCode)} ${body.slice(0, 200)}`));
      });
    });
    req.on('error', reject);
    req.end();
  });
  const totals = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels = new Map<string, string>();
    for (const match of line.matchAll(/(\w+)="([^"]*)"/g))
      labels.set(match[1] ?? '', match[2] ?? '');
    const subresource = labels.get('subresource') ?? '';
    const resource = `${labels.get('resource') ?? ''}${subresource === '' ? '' : `/${subresource}`}`;
    const key = `${labels.get('verb') ?? ''} ${resource}`;
    totals.set(key, (totals.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return totals;
}

function delta(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const result = new Map<string, number>();
  for (const [key, value] of after) {
    const change = value - (before.get(key) ?? 0);
    if (change > 0) result.set(key, change);
  }
  return result;
}

/** The largest request kinds of a delta, per node. */
function perNode(requests: Map<string, number>, nodes: number, top = 8): string {
  return [...requests]
    .sort(([, a], [, b]) => b - a)
    .slice(0, top)
    .map(([key, value]) => `${key} ${(value / nodes).toFixed(2)}`)
    .join('; ');
}

async function bench(count: number): Promise<void> {
  const leased = await launchLeasedCluster({ name: 'bench-fleet', nodes: 2 });
  const { cluster } = leased;
  const server = await BundleHttpServer.start({ host: leased.lease.hostAddress });
  let fleet: Awaited<ReturnType<typeof startHollowFleet>> | undefined;
  try {
    const objects = cluster.kubeConfig.makeApiClient(CustomObjectsApi);
    const pid = await operatorPid(cluster);
    const idle = await sample(pid);
    const joinStarted = performance.now();
    fleet = await startHollowFleet({
      cluster,
      count,
      dir: leased.dir,
      rebootTime: `${String(rebootTimeMs)}ms`,
      labels: label,
      timeoutMs: 900_000,
      progress: (line) => process.stderr.write(`  ${line}\n`),
    });
    const joinMs = performance.now() - joinStarted;
    // Steady state: N nodes watched, nothing changing.
    await sleep(10_000);
    const watchedBefore = await sample(pid);
    const idleRequestsBefore = await apiserverRequests(cluster.kubeConfig);
    const idleWindowMs = 30_000;
    await sleep(idleWindowMs);
    const idleRequests = delta(idleRequestsBefore, await apiserverRequests(cluster.kubeConfig));
    const watched = await sample(pid);

    // A role change on the real node 1 while N hollow nodes are watched.
    const realId = cluster.nodeIds[1] ?? '';
    const roleStarted = performance.now();
    await objects.patchClusterCustomObject(
      { ...monogonNodeResource, name: realId, body: { spec: { roles: ['ConsensusMember'] } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await eventually(
      async () => {
        const node = (await objects.getClusterCustomObject({
          ...monogonNodeResource,
          name: realId,
        })) as MonogonNode;
        if (!(node.status?.runningRoles ?? []).includes('ConsensusMember')) {
          throw new Error('ConsensusMember not running yet');
        }
      },
      300_000,
      200,
    );
    const roleMs = performance.now() - roleStarted;

    const bundle = await server.serve(
      await buildBundle(leased.dir, 'v0.2.0', { hollow: true, fileName: 'hollow-v0.2.0' }),
    );
    const rolloutBefore = await apiserverRequests(cluster.kubeConfig);
    const cpuBefore = await sample(pid);
    const rolloutStarted = performance.now();
    await objects.createClusterCustomObject({
      ...osUpdateResource,
      body: {
        apiVersion: `${osUpdateGroup}/${osUpdateVersion}`,
        kind: 'OSUpdate',
        metadata: { name: 'bench-to-v0-2-0' },
        spec: {
          version: 'v0.2.0',
          bundle: { url: bundle.url, sha256: bundle.sha256 },
          nodeSelector: { matchLabels: label },
          strategy: { maxUnavailable: '10%' },
        },
      },
    });
    const done = await eventually(
      async () => {
        const update = (await objects.getClusterCustomObject({
          ...osUpdateResource,
          name: 'bench-to-v0-2-0',
        })) as OSUpdate;
        const phase = update.status?.phase ?? '';
        if (!['Succeeded', 'Halted'].includes(phase)) {
          throw new Error(`${phase}: ${update.status?.summary ?? ''}`);
        }
        return update;
      },
      3_600_000,
      500,
    );
    const rolloutMs = performance.now() - rolloutStarted;
    const rolloutRequests = delta(rolloutBefore, await apiserverRequests(cluster.kubeConfig));
    const after = await sample(pid);
    const fleetStatus = await readFile(`/proc/${String(fleet.pid)}/status`, 'utf8');
    const fleetRss = Number(/VmHWM:\s+(\d+)/.exec(fleetStatus)?.[1]) / 1024;

    const batch = Math.max(1, Math.floor(count / 10));
    const steps = Math.ceil(count / batch);
    const minimumMs = steps * rebootTimeMs;
    const mib = (value: number): string => `${value.toFixed(1)} MiB`;
    const lines = [
      `## ${String(count)} hollow nodes (${done.status?.phase ?? '?'}, ${done.status?.updated ?? '?'})`,
      `registration to all UP: ${(joinMs / 1000).toFixed(1)} s; fleet process peak RSS ${mib(fleetRss)}`,
      `operator RSS: idle ${mib(idle.rssMiB)}, ${String(count)} watched ${mib(watched.rssMiB)}, after rollout ${mib(after.rssMiB)} (peak ${mib(after.hwmMiB)})`,
      `operator CPU: ${((watched.cpuSeconds - watchedBefore.cpuSeconds) / (idleWindowMs / 1000)).toFixed(3)} s/s while watching; rollout ${(after.cpuSeconds - cpuBefore.cpuSeconds).toFixed(1)} s; total ${after.cpuSeconds.toFixed(1)} s`,
      `apiserver requests per node per minute while idle: ${perNode(idleRequests, count * (idleWindowMs / 60_000))}`,
      `apiserver requests per node over the rollout (one step per node): ${perNode(rolloutRequests, count)}`,
      `rollout: ${(rolloutMs / 1000).toFixed(1)} s; minimum ${String(steps)} steps x ${String(rebootTimeMs / 1000)} s = ${(minimumMs / 1000).toFixed(0)} s; ratio ${(rolloutMs / minimumMs).toFixed(1)}x`,
      `role change (ConsensusMember on a real node, ${String(count)} watched): ${(roleMs / 1000).toFixed(1)} s`,
    ];
    process.stdout.write(`${lines.join('\n')}\n\n`);
  } finally {
    await fleet?.stop();
    await server.close();
    await leased.stop();
  }
}

for (const count of counts.length > 0 ? counts : [100, 500]) await bench(count);

// Benchmark: the operator at fleet scale. A launched two-node cluster (real etcd, kube-apiserver,
// operator) gets N hollow nodes (the real agent over simulated hardware, docs/hollow-nodes.md).
// Measured per N: the operator's RSS and CPU seconds (idle, with N nodes watched, after the
// rollout), kube-apiserver requests per node (from its /metrics, by verb and resource) while
// idle and over a rollout, the time from creating an OSUpdate with maxUnavailable 10% to
// Succeeded against the theoretical minimum (steps x simulated reboot time) and against the
// hollow nodes' measured reboots (per step the slowest node's down -> serving, from the boot
// records; the rest of the rollout is the operator's share), and the time for a role change on
// the second real node while the N hollow nodes are watched.
// Usage: fleet-scale.ts [count...] (default 100 500).
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
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
  osUpdateResource,
  type MonogonNode,
  type OSUpdate,
} from '@metropolis/api';
import { BundleHttpServer } from '@metropolis/bundle';
import {
  buildBundle,
  createOSUpdate,
  eventually,
  launchLeasedCluster,
  startHollowFleet,
  type HollowFleet,
  type LaunchedCluster,
} from '../harness/index.js';

const run = promisify(execFile);
const args = process.argv.slice(2);
/** `--max-unavailable X` (default 10%): the rollout's strategy.maxUnavailable. */
const flag = args.indexOf('--max-unavailable');
const maxUnavailableFlag = flag === -1 ? '10%' : (args.splice(flag, 2)[1] ?? '10%');
const maxUnavailable: number | string = /^\d+$/.test(maxUnavailableFlag)
  ? Number(maxUnavailableFlag)
  : maxUnavailableFlag;
const counts = args.map(Number);
const rebootTimeMs = 2000;
const label = { 'bench.metropolis.dev/fleet': 'hollow' };
/** USER_HZ: /proc/<pid>/stat counts CPU time in these. */
const clockTicksPerSecond = 100;

interface Sample {
  /** The operator process sampled: a new one after the node agent restarted it. */
  readonly pid: number;
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

/** The operator's memory and CPU now; its PID is looked up each time, as it may restart. */
async function sample(cluster: LaunchedCluster): Promise<Sample> {
  const pid = await operatorPid(cluster);
  const status = await readFile(`/proc/${String(pid)}/status`, 'utf8');
  const kib = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1]);
  // Fields after the command (which may hold spaces) start after the last ')'.
  const stat = (await readFile(`/proc/${String(pid)}/stat`, 'utf8')).split(') ')[1]?.split(' ');
  const ticks = Number(stat?.[11]) + Number(stat?.[12]);
  return {
    pid,
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

/** Nodes per step: a count, or a percentage rounded down, at least 1 (as the operator does). */
function maxUnavailableCount(count: number): number {
  if (typeof maxUnavailable === 'number') return maxUnavailable;
  return Math.max(1, Math.floor((count * Number(maxUnavailable.replace('%', ''))) / 100));
}

/** One hollow node's reboot into the new version, from its boot record (wall clock, ms). */
interface MeasuredReboot {
  readonly downMs: number;
  /** The firmware started the new boot: after the old agent stopped and the simulated reboot. */
  readonly bootMs: number;
  readonly servingMs: number;
}

/** The reboot of each node into `version`, from the fleet's boot records; undefined if none. */
async function measuredReboots(
  fleet: HollowFleet,
  count: number,
  version: string,
): Promise<(MeasuredReboot | undefined)[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const boot = (await fleet.boots(index)).find(
        (record) => record.version === version && record.outcome === 'started',
      );
      if (boot?.downAt === undefined || boot.servingAt === undefined) return undefined;
      return {
        downMs: Date.parse(boot.downAt),
        bootMs: Date.parse(boot.at),
        servingMs: Date.parse(boot.servingAt),
      };
    }),
  );
}

/**
 * The hollow nodes' own share of a rollout: nodes in the order they went down, `batch` a step,
 * each step as long as its slowest node's down -> serving. Also the mean stop (down -> firmware,
 * less the simulated reboot) and start (firmware -> serving) of a node.
 */
function rebootShare(
  reboots: readonly MeasuredReboot[],
  batch: number,
): { steps: number[]; stopMs: number; startMs: number } {
  const ordered = [...reboots].sort((a, b) => a.downMs - b.downMs);
  const steps: number[] = [];
  for (let first = 0; first < ordered.length; first += batch) {
    const step = ordered.slice(first, first + batch);
    steps.push(Math.max(...step.map((reboot) => reboot.servingMs - reboot.downMs)));
  }
  const mean = (values: number[]): number =>
    values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
  return {
    steps,
    stopMs: mean(ordered.map((reboot) => reboot.bootMs - reboot.downMs - rebootTimeMs)),
    startMs: mean(ordered.map((reboot) => reboot.servingMs - reboot.bootMs)),
  };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

function mib(value: number): string {
  return `${value.toFixed(1)} MiB`;
}

/** The operator's distinct error messages (first 200 characters), from its log on node 0. */
async function operatorErrors(cluster: LaunchedCluster): Promise<string[]> {
  const dir = cluster.nodes[0]?.dir ?? '';
  const text = await readFile(join(dir, 'data', 'control-plane', 'operator.log'), 'utf8');
  const errors = new Set<string>();
  for (const line of text.split('\n')) {
    if (!line.includes('"level":"error"')) continue;
    const error = /"error":"((?:[^"\\]|\\.)*)"/.exec(line)?.[1];
    if (error !== undefined) errors.add(error.slice(0, 200));
  }
  return [...errors].slice(0, 5);
}

async function bench(count: number): Promise<void> {
  const leased = await launchLeasedCluster({ name: 'bench-fleet', nodes: 2 });
  const { cluster } = leased;
  const server = await BundleHttpServer.start({ host: leased.lease.hostAddress });
  let fleet: HollowFleet | undefined;
  try {
    const objects = cluster.kubeConfig.makeApiClient(CustomObjectsApi);
    const idle = await sample(cluster);
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
    const fleetPeakMiB = async (): Promise<number> => {
      const status = await readFile(`/proc/${String(fleet?.pid ?? 0)}/status`, 'utf8');
      return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]) / 1024;
    };
    say(`## ${String(count)} hollow nodes`);
    say(`registration to all UP: ${(joinMs / 1000).toFixed(1)} s`);
    // Steady state: N nodes watched, nothing changing.
    await sleep(10_000);
    const watchedBefore = await sample(cluster);
    const idleRequestsBefore = await apiserverRequests(cluster.kubeConfig);
    const idleWindowMs = 30_000;
    await sleep(idleWindowMs);
    const idleRequests = delta(idleRequestsBefore, await apiserverRequests(cluster.kubeConfig));
    const watched = await sample(cluster);
    say(
      `operator RSS: idle ${mib(idle.rssMiB)}, ${String(count)} watched ${mib(watched.rssMiB)}; CPU while watching ${((watched.cpuSeconds - watchedBefore.cpuSeconds) / (idleWindowMs / 1000)).toFixed(3)} s/s`,
    );
    say(
      `apiserver requests per node per minute while idle: ${perNode(idleRequests, count * (idleWindowMs / 60_000))}`,
    );

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
    say(
      `role change (ConsensusMember on a real node, ${String(count)} watched): ${(roleMs / 1000).toFixed(1)} s`,
    );

    const bundle = await server.serve(
      await buildBundle(leased.dir, 'v0.2.0', { hollow: true, fileName: 'hollow-v0.2.0' }),
    );
    const rolloutBefore = await apiserverRequests(cluster.kubeConfig);
    const cpuBefore = await sample(cluster);
    const rolloutStarted = performance.now();
    await createOSUpdate(cluster.kubeConfig, 'bench-to-v0-2-0', {
      version: 'v0.2.0',
      bundle: { url: bundle.url, sha256: bundle.sha256 },
      nodeSelector: { matchLabels: label },
      strategy: { maxUnavailable },
    });
    const batch = maxUnavailableCount(count);
    const steps = Math.ceil(count / batch);
    const minimumMs = steps * rebootTimeMs;
    // A stalled rollout is a result too: wait a bounded time, then report where it stands.
    const deadline = rolloutStarted + Math.max(600_000, 20 * minimumMs);
    let done: OSUpdate | undefined;
    let polls = 0;
    while (performance.now() < deadline) {
      polls += 1;
      done = (await objects.getClusterCustomObject({
        ...osUpdateResource,
        name: 'bench-to-v0-2-0',
      })) as OSUpdate;
      if (['Succeeded', 'Halted'].includes(done.status?.phase ?? '')) break;
      // Often: the rollout's time includes up to one interval of this poll.
      await sleep(100);
    }
    const rolloutMs = performance.now() - rolloutStarted;
    const rolloutRequests = delta(rolloutBefore, await apiserverRequests(cluster.kubeConfig));
    // This bench's own polls are not the operator's requests.
    const gets = (rolloutRequests.get('GET osupdates') ?? 0) - polls;
    if (gets > 0) rolloutRequests.set('GET osupdates', gets);
    else rolloutRequests.delete('GET osupdates');
    const after = await sample(cluster);
    const finished = ['Succeeded', 'Halted'].includes(done?.status?.phase ?? '');
    say(
      `rollout (maxUnavailable ${maxUnavailableFlag}): ${finished ? '' : 'NOT FINISHED after '}${(rolloutMs / 1000).toFixed(1)} s, ${done?.status?.phase ?? '?'} ${done?.status?.updated ?? '?'}; minimum ${String(steps)} steps x ${String(rebootTimeMs / 1000)} s = ${(minimumMs / 1000).toFixed(0)} s; ratio ${(rolloutMs / minimumMs).toFixed(1)}x`,
    );
    const reboots = await measuredReboots(fleet, count, 'v0.2.0');
    const measured = reboots.filter((reboot) => reboot !== undefined);
    if (measured.length > 0) {
      const share = rebootShare(measured, batch);
      const rebootsMs = share.steps.reduce((sum, step) => sum + step, 0);
      say(
        `  hollow reboots (down -> management API serving, slowest of each step): ${share.steps.map(seconds).join(', ')}; sum ${seconds(rebootsMs)}; per node mean stop ${seconds(share.stopMs)}, start ${seconds(share.startMs)} (+ ${String(rebootTimeMs / 1000)} s simulated)${measured.length < count ? `; ${String(count - measured.length)} nodes without a record` : ''}`,
      );
      say(
        `  operator's share: rollout - sum = ${seconds(rolloutMs - rebootsMs)}; ratio to the measured reboots ${(rolloutMs / rebootsMs).toFixed(2)}x (to the minimum ${(rolloutMs / minimumMs).toFixed(1)}x)`,
      );
    }
    if (!finished) {
      say(`  summary: ${done?.status?.summary ?? ''}`);
      for (const error of await operatorErrors(cluster)) say(`  operator error: ${error}`);
    }
    if (after.pid !== idle.pid) {
      say(
        `  the operator restarted (PID ${String(idle.pid)} -> ${String(after.pid)}): CPU counts only the last`,
      );
    }
    say(
      `operator RSS after the rollout ${mib(after.rssMiB)} (peak ${mib(after.hwmMiB)}); CPU over the rollout ${(after.cpuSeconds - cpuBefore.cpuSeconds).toFixed(1)} s, total ${after.cpuSeconds.toFixed(1)} s`,
    );
    say(
      `apiserver requests per node over the rollout (not the bench's polls): ${perNode(rolloutRequests, count)}`,
    );
    say(`fleet process peak RSS ${mib(await fleetPeakMiB())}\n`);
  } finally {
    await fleet?.stop();
    await server.close();
    await leased.stop();
  }
}

for (const count of counts.length > 0 ? counts : [100, 500]) await bench(count);

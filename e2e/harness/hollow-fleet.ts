// Hollow nodes for a launched cluster: starts the node agent's hollow-fleet in node 0's network
// namespace (where the operator runs), each node on a loopback address of its own, waits for
// them to register as NEW, approves them as the owner and waits until every one is UP.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { monogonNodeResource } from '@metropolis/api';
import { workspacePaths } from '@metropolis/os-image';
import { ManagedProcess } from '@metropolis/process';
import { readBootRecords, type BootRecord } from '@metropolis/process-node';
import { eventually } from '@metropolis/testing';
import { joinParameters, listNodes, type LaunchedCluster } from './launch-cluster.js';
import { buildBundle, extractRelease } from './releases.js';

export interface HollowFleetOptions {
  readonly cluster: LaunchedCluster;
  readonly count: number;
  /** Where the release and the fleet's log are written. */
  readonly dir: string;
  /** How long a simulated reboot keeps a node down, in Go syntax. @default '2s' */
  readonly rebootTime?: string;
  /** Labels every hollow node's MonogonNode gets at approval (to select them in an OSUpdate). */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * The first node's address; node i gets this + i, all on loopback in node 0's namespace.
   * @default '127.1.0.1'
   */
  readonly firstAddress?: string;
  /** How long registration, approval and coming UP may take. @default 300_000 */
  readonly timeoutMs?: number;
  readonly progress?: (line: string) => void;
}

export interface HollowFleet {
  /** MonogonNode names (node IDs), in the fleet's node order. */
  readonly nodeIds: readonly string[];
  /** The fleet process: its PID, e.g. for /proc/<pid>/status. */
  readonly pid: number;
  /** The fleet's JSON log (every node's agent). */
  readonly logFile: string;
  /** The boot records of node `index` (boots.jsonl in its directory). */
  boots(index: number): Promise<BootRecord[]>;
  /** Stops the fleet and removes its node directories. */
  stop(): Promise<void>;
}

/** fleet.json, which the fleet writes once its nodes exist. */
interface FleetManifest {
  readonly nodes: readonly {
    readonly name: string;
    readonly address: string;
    readonly bootsLog: string;
  }[];
}

/** Node directories live on a tmpfs: slots and data cost memory, not disk writes. */
const nodeDirParent = '/dev/shm';

export async function startHollowFleet(options: HollowFleetOptions): Promise<HollowFleet> {
  const { cluster, count } = options;
  const say = options.progress ?? (() => undefined);
  const timeoutMs = options.timeoutMs ?? 300_000;
  const first = cluster.nodes[0];
  if (first?.netns === undefined || first.address === undefined) {
    throw new Error('the cluster has no node 0 in a network namespace');
  }
  const paths = workspacePaths();
  say('building the hollow v0.1.0 release');
  const bundle = await buildBundle(options.dir, 'v0.1.0', {
    hollow: true,
    fileName: 'hollow-v0.1.0',
  });
  const install = {
    systemImage: join(options.dir, 'hollow-system.img'),
    loader: join(options.dir, 'hollow-loader.efi'),
  };
  await extractRelease(bundle, install);
  const parametersFile = join(options.dir, 'hollow-parameters.json');
  await writeFile(
    parametersFile,
    JSON.stringify({
      releaseKeys: [await readFile(paths.devReleaseKey.publicKeyPem, 'utf8')],
      development: true,
      cluster: await joinParameters(cluster.kubeConfig, cluster.configDir, first.address),
    }),
  );
  const nodesDir = await mkdtemp(join(nodeDirParent, 'hollow-fleet-'));
  const logFile = join(options.dir, 'hollow-fleet.log');
  const firstAddress = options.firstAddress ?? '127.1.0.1';
  // The operator runs in node 0's namespace: the fleet shares it, each hollow node on its own
  // loopback address there (127.0.0.0/8 is local on lo; node 0's agent holds only its own).
  const namespace = first.netns;
  say(`starting ${String(count)} hollow nodes in ${namespace}`);
  const fleet = await ManagedProcess.start({
    command: process.execPath,
    args: [
      '--import=tsx',
      '--conditions=source',
      join(paths.repository, 'node-agent', 'src', 'main.ts'),
      'hollow-fleet',
      '--count',
      String(count),
      '--dir',
      nodesDir,
      '--first-address',
      firstAddress,
      '--reboot-time',
      options.rebootTime ?? '2s',
      '--system-image',
      install.systemImage,
      '--loader',
      install.loader,
      '--parameters',
      parametersFile,
    ],
    cwd: paths.repository,
    logFile,
    wrapper: ['ip', 'netns', 'exec', namespace],
  });
  const stop = async (): Promise<void> => {
    await fleet.stop(20_000);
    await rm(nodesDir, { recursive: true, force: true });
  };
  try {
    const failed = (): Error | undefined =>
      fleet.exit === undefined
        ? undefined
        : new Error(`the hollow fleet exited (${JSON.stringify(fleet.exit)}); see ${logFile}`);
    const manifest = await eventually(
      async () => {
        const exited = failed();
        if (exited) throw exited;
        return JSON.parse(await readFile(join(nodesDir, 'fleet.json'), 'utf8')) as FleetManifest;
      },
      timeoutMs,
      500,
    );
    const addresses = manifest.nodes.map((node) => node.address);
    const objects = cluster.kubeConfig.makeApiClient(CustomObjectsApi);
    const registered = await eventually(
      async () => {
        const exited = failed();
        if (exited) throw exited;
        const byAddress = new Map((await listNodes(objects)).map((n) => [n.status?.address, n]));
        const missing = addresses.filter((address) => !byAddress.has(address));
        if (missing.length > 0) {
          throw new Error(
            `${String(missing.length)} hollow nodes not registered, e.g. ${missing[0] ?? ''}`,
          );
        }
        return addresses.map((address) => byAddress.get(address)?.metadata.name ?? '');
      },
      timeoutMs,
      1000,
    );
    say(`approving ${String(count)} hollow nodes`);
    for (const name of registered) {
      await objects.patchClusterCustomObject(
        {
          ...monogonNodeResource,
          name,
          body: {
            metadata: { labels: { ...options.labels } },
            spec: { approved: true },
          },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    }
    say('waiting for every hollow node to be UP and HEALTHY');
    await eventually(
      async () => {
        const exited = failed();
        if (exited) throw exited;
        const items = new Map((await listNodes(objects)).map((n) => [n.metadata.name, n]));
        const pending = registered.filter((name) => {
          const status = items.get(name)?.status;
          return status?.state !== 'UP' || status.health !== 'HEALTHY';
        });
        if (pending.length > 0) {
          throw new Error(
            `${String(pending.length)} hollow nodes not UP and HEALTHY, e.g. ${pending[0] ?? ''}`,
          );
        }
      },
      timeoutMs,
      1000,
    );
    return {
      nodeIds: registered,
      pid: fleet.pid,
      logFile,
      boots: (index) => readBootRecords(manifest.nodes[index]?.bootsLog ?? ''),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

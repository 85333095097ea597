// Launches a cluster of process nodes on one machine, as Monogon's launch-cluster does with
// VMs: node 0 is bootstrapped with metroctl, the others register with the ticket, get approved
// and come UP. Used by hack/launch-cluster.sh and by the e2e suite.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import {
  monogonNodeResource,
  systemNamespace,
  type MonogonNode,
  type MonogonNodeRole,
} from '@metropolis/api';
import { silentLogger } from '@metropolis/logging';
import { ConfigStore, bootstrapCluster } from '@metropolis/metroctl';
import { workspacePaths } from '@metropolis/os-image';
import { ProcessNetwork, ProcessNode } from '@metropolis/process-node';
import { eventually } from '@metropolis/testing';
import { buildBundle, extractRelease } from './releases.js';

export interface LaunchOptions {
  /** Where node directories, the release and metroctl's config live; emptied first. */
  readonly dir: string;
  /** @default 3 */
  readonly nodes?: number;
  /** Roles for nodes 1..n-1 once approved (node 0 runs ConsensusMember + KubernetesController). */
  readonly initialRoles?: readonly MonogonNodeRole[];
  readonly binaries: { readonly etcd: string; readonly kubeApiserver: string };
  readonly kubeconfigPath: string;
  /** @default 'launch-cluster' */
  readonly contextName?: string;
  /** The lab network: @default bridge mtrbr0, 10.1.0.1/24 */
  readonly network?: {
    readonly bridge: string;
    readonly hostAddress: string;
    readonly prefixLength: number;
  };
  /** Progress lines for people. */
  readonly progress?: (line: string) => void;
  /** @default 180_000 */
  readonly timeoutMs?: number;
  /** Node names are `<prefix>-N`, network namespaces `mtr-<prefix>-N`. @default 'launch' */
  readonly namePrefix?: string;
  /** More node-agent flags for every node (e.g. a short --trial-timeout). */
  readonly agentArgs?: readonly string[];
}

export interface LaunchedCluster {
  readonly nodes: readonly ProcessNode[];
  readonly nodeIds: readonly string[];
  readonly network: ProcessNetwork;
  readonly configDir: string;
  readonly kubeconfigPath: string;
  readonly contextName: string;
  readonly endpoints: readonly string[];
  readonly kubeConfig: KubeConfig;
  /** The release every node was installed with: to add nodes to the cluster's network. */
  readonly release: { readonly systemImage: string; readonly loader: string };
  /** Shuts every node down and removes the network. */
  stop(): Promise<void>;
}

export async function launchCluster(options: LaunchOptions): Promise<LaunchedCluster> {
  const prefix = options.namePrefix ?? 'launch';
  const nodeName = (index: number): string => `${prefix}-${String(index)}`;
  const say = options.progress ?? (() => undefined);
  const count = options.nodes ?? 3;
  const contextName = options.contextName ?? 'launch-cluster';
  const timeoutMs = options.timeoutMs ?? 180_000;
  const net = options.network ?? { bridge: 'mtrbr0', hostAddress: '10.1.0.1', prefixLength: 24 };
  if (count < 1) throw new Error('a cluster needs at least one node');

  await cleanUp(
    options.dir,
    net.bridge,
    Array.from({ length: Math.max(count, 8) }, (_, i) => nodeName(i)),
  );
  await mkdir(options.dir, { recursive: true });
  say('building the v0.1.0 release (node agent + operator)');
  const release = await buildRelease(options.dir);

  const network = await ProcessNetwork.create(net);
  const nodes: ProcessNode[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => node.shutdown()));
    await network.destroy();
  };
  try {
    const releaseKeys = [await readFile(workspacePaths().devReleaseKey.publicKeyPem, 'utf8')];
    say('starting node 0 and bootstrapping the cluster on it');
    // Every node gets the host's control-plane binaries (not part of the system image, so an
    // update leaves them as they are); its roles decide which of them run.
    const agentArgs = [
      '--etcd',
      options.binaries.etcd,
      '--kube-apiserver',
      options.binaries.kubeApiserver,
      ...(options.agentArgs ?? []),
    ];
    // The owner key exists before node 0 does: node 0 lets only its holder bootstrap it.
    const configDir = join(options.dir, 'metroctl');
    const config = new ConfigStore(configDir);
    const { keyPair: ownerKey } = await config.loadOrCreateOwnerKey();
    const first = await ProcessNode.create({
      dir: join(options.dir, nodeName(0)),
      name: nodeName(0),
      network,
      agentArgs,
      // Launched clusters run releases signed with the public development key.
      parameters: {
        releaseKeys,
        development: true,
        bootstrap: { ownerPublicKeys: [await ownerKey.publicKeyPem()] },
      },
    });
    nodes.push(first);
    await first.install(release);
    await first.powerOn();
    const firstAddress = first.address ?? '';
    const bootstrapped = await eventually(
      () =>
        bootstrapCluster({
          endpoint: firstAddress,
          config,
          kubeconfigPath: options.kubeconfigPath,
          contextName,
          logger: silentLogger,
          notice: say,
        }),
      timeoutMs,
    );

    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(options.kubeconfigPath);
    kubeConfig.setCurrentContext(contextName);
    const objects = kubeConfig.makeApiClient(CustomObjectsApi);
    const cluster = await joinParameters(kubeConfig, configDir, firstAddress);

    for (let index = 1; index < count; index++) {
      say(`starting node ${String(index)}: it registers with the ticket`);
      const node = await ProcessNode.create({
        dir: join(options.dir, nodeName(index)),
        name: nodeName(index),
        network,
        agentArgs,
        parameters: { releaseKeys, development: true, cluster },
      });
      nodes.push(node);
      await node.install(release);
      await node.powerOn();
    }
    const nodeIds = [bootstrapped.nodeId];
    for (const node of nodes.slice(1)) {
      const registered = await eventually(async () => {
        const found = (await listNodes(objects)).find(
          (item) => item.status?.address === node.address,
        );
        if (!found) throw new Error(`node at ${node.address ?? '?'} has not registered`);
        return found;
      }, timeoutMs);
      const id = registered.metadata.name;
      say(`approving ${id}`);
      await objects.patchClusterCustomObject(
        {
          ...monogonNodeResource,
          name: id,
          body: {
            spec: {
              approved: true,
              ...(options.initialRoles ? { roles: [...options.initialRoles] } : {}),
            },
          },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      nodeIds.push(id);
    }
    say('waiting for every node to be UP and HEALTHY');
    await eventually(async () => {
      const items = await listNodes(objects);
      const pending = nodeIds.filter((id) => {
        const item = items.find((candidate) => candidate.metadata.name === id);
        return item?.status?.state !== 'UP' || item.status.health !== 'HEALTHY';
      });
      if (pending.length > 0) throw new Error(`not UP and HEALTHY yet: ${pending.join(', ')}`);
    }, timeoutMs);
    const endpoints = nodes.map((node) => node.address ?? '');
    await writeWrappers(configDir, endpoints, options.kubeconfigPath, contextName);
    return {
      nodes,
      nodeIds,
      network,
      configDir,
      kubeconfigPath: options.kubeconfigPath,
      contextName,
      endpoints,
      kubeConfig,
      release,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Removes what an earlier launch left: its bridge, namespaces and directories. */
async function cleanUp(dir: string, bridge: string, names: readonly string[]): Promise<void> {
  const { execFile } = await import('node:child_process');
  const ip = (args: string[]): Promise<void> =>
    new Promise((resolve) => {
      execFile('ip', args, () => {
        resolve();
      });
    });
  await ip(['link', 'del', 'dev', bridge]);
  for (const name of names) await ip(['netns', 'del', `mtr-${name}`]);
  await rm(dir, { recursive: true, force: true });
}

async function buildRelease(dir: string): Promise<{ systemImage: string; loader: string }> {
  const bundle = await buildBundle(dir, 'v0.1.0');
  const files = { systemImage: join(dir, 'system.img'), loader: join(dir, 'loader.efi') };
  await extractRelease(bundle, files);
  return files;
}

/** The `cluster` section of a joining node's parameters: the CA, the ticket, where to register. */
export async function joinParameters(
  kubeConfig: KubeConfig,
  configDir: string,
  endpoint: string,
): Promise<{ caCertificate: string; registerTicket: string; endpoints: string[] }> {
  const secret = await kubeConfig
    .makeApiClient(CoreV1Api)
    .readNamespacedSecret({ name: 'register-ticket', namespace: systemNamespace });
  return {
    caCertificate: await readFile(join(configDir, 'ca.pem'), 'utf8'),
    registerTicket: Buffer.from(secret.data?.['ticket'] ?? '', 'base64').toString('utf8'),
    endpoints: [endpoint],
  };
}

/** Every MonogonNode. */
export async function listNodes(objects: CustomObjectsApi): Promise<MonogonNode[]> {
  const response = (await objects.listClusterCustomObject({
    ...monogonNodeResource,
  })) as { items: MonogonNode[] };
  return response.items;
}

/** The wrappers the launcher prints: metroctl and kubectl pointed at this cluster. */
async function writeWrappers(
  configDir: string,
  endpoints: readonly string[],
  kubeconfigPath: string,
  contextName: string,
): Promise<void> {
  const repo = join(workspacePaths().repository);
  const flags = endpoints.map((endpoint) => `--endpoints ${endpoint}`).join(' ');
  await writeFile(
    join(configDir, 'metroctl.sh'),
    `#!/bin/sh\nexec ${repo}/node_modules/.bin/metroctl --config ${configDir} --kubeconfig ${kubeconfigPath} --context ${contextName} ${flags} "$@"\n`,
    { mode: 0o755 },
  );
}

// Test fixture: real releases built by the os-image CLI, a bundle server on the bridge, and a
// process node (network namespace + firmware emulator) running the real agent with mTLS.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { credentials, type ClientReadableStream } from '@grpc/grpc-js';
import {
  NodeManagementClient,
  NodeLayout,
  certificateRoles,
  nodeManagementPort,
  type BootState,
  type NodeStatus,
  type RebootResponse,
  type StageUpdateProgress,
} from '@metropolis/api';
import { writeBundle } from '@metropolis/bundle';
import { CertificateAuthority } from '@metropolis/pki';
import { ProcessNetwork, ProcessNode, agentRoots } from '@metropolis/process-node';
import { eventually, extractPayloads, preseedNode } from '@metropolis/testing';

const repo = join(import.meta.dirname, '..', '..');
export const devKeyPem = join(repo, 'os-image', 'keys', 'dev-release.key.pem');
export const devPublicKeyPem = join(repo, 'os-image', 'keys', 'dev-release.pub.pem');
const osImage = join(repo, 'node_modules', '.bin', 'metropolis-os-image');

export interface Release {
  readonly version: string;
  readonly bundle: string;
  readonly sha256: string;
  readonly systemImage: string;
  readonly loader: string;
}

export interface Teardown {
  teardown(fn: () => Promise<unknown>): void;
}

/**
 * Builds a process-flavour release with the os-image CLI, as a release engineer would. Tests of
 * the agent alone leave the operator out (`--operator-entry none`); cluster tests keep it.
 */
export async function buildRelease(
  dir: string,
  version: string,
  extra: readonly string[] = ['--operator-entry', 'none'],
): Promise<Release> {
  const out = join(dir, `${version}.bundle`);
  const args = [
    'bundle',
    '--version',
    version,
    '--flavour',
    'process',
    '--key',
    devKeyPem,
    '--out',
    out,
    '--json',
    ...extra,
  ];
  const { stdout } = await promisify(execFile)(osImage, args, { maxBuffer: 1 << 24 });
  const built = JSON.parse(stdout) as { sha256: string };
  // The payloads, for installing a fresh node as the installer would.
  const payloads = await extractPayloads(
    out,
    join(dir, version),
    await readFile(devPublicKeyPem, 'utf8'),
  );
  return {
    version,
    bundle: out,
    sha256: built.sha256,
    ...payloads,
  };
}

/**
 * A bundle of `version` whose system image is `imageMiB` of random bytes, with the loader of
 * `release`: a realistic size to download and stage (staging does not boot it).
 */
export async function largeBundle(
  dir: string,
  release: Release,
  version: string,
  imageMiB: number,
): Promise<{ path: string; sha256: string }> {
  const image = join(dir, `${version}-system.img`);
  await writeFile(image, randomBytes(imageMiB << 20));
  const path = join(dir, `${version}.bundle`);
  const { sha256 } = await writeBundle(path, {
    version,
    flavour: 'process',
    architecture: 'x86_64',
    signingKeyPem: await readFile(devKeyPem, 'utf8'),
    files: [
      { name: 'loader.efi', role: 'loader', path: release.loader },
      { name: 'system.img', role: 'system', path: image },
    ],
  });
  return { path, sha256 };
}

export function sha256Of(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Serves files to the nodes over HTTP from the host's bridge address. */
export class BundleServer {
  readonly #server: Server;
  readonly #routes = new Map<string, (res: import('node:http').ServerResponse) => void>();
  #base = '';

  private constructor() {
    this.#server = createServer((req, res) => {
      const route = this.#routes.get(req.url ?? '');
      if (route) route(res);
      else res.writeHead(404).end();
    });
  }

  static async start(host: string, t: Teardown): Promise<BundleServer> {
    const server = new BundleServer();
    await new Promise<void>((resolve) => {
      server.#server.listen(0, host, resolve);
    });
    const address = server.#server.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    server.#base = `http://${host}:${String(address.port)}`;
    t.teardown(
      () =>
        new Promise<void>((resolve) => {
          server.#server.closeAllConnections();
          server.#server.close(() => {
            resolve();
          });
        }),
    );
    return server;
  }

  /** Serves a file at `path`. */
  file(path: string, file: string): string {
    this.#routes.set(path, (res) => {
      void stat(file).then(({ size }) => {
        res.writeHead(200, { 'content-length': String(size) });
        createReadStream(file).pipe(res);
      });
    });
    return this.#base + path;
  }

  /** Serves `data`, or any custom response, at `path`. */
  custom(path: string, handler: (res: import('node:http').ServerResponse) => void): string {
    this.#routes.set(path, handler);
    return this.#base + path;
  }
}

/** One line of the agent's JSON log. */
export interface LogEntry {
  readonly message?: unknown;
  readonly level?: unknown;
  readonly [field: string]: unknown;
}

export interface TestNodeOptions {
  readonly release: Release;
  /**
   * Give the node cluster certificates before its first boot, as if it had joined a cluster
   * (the default); false boots it unowned, serving only the bootstrap endpoint.
   */
  readonly owned?: boolean;
  /** Share a network with other nodes (default: a network of its own). */
  readonly network?: ProcessNetwork;
  /** Extra node parameters (e.g. `cluster` for a node that joins). */
  readonly parameters?: Record<string, unknown>;
  readonly agentArgs?: readonly string[];
  readonly slotSize?: number;
  /**
   * A data partition of this size (a tmpfs mounted over the node's data directory), so a test
   * can fill it; default: the host's file system.
   */
  readonly dataPartitionBytes?: number;
}

/** A booted process node and an operator's gRPC client for it. */
export class TestNode {
  readonly node: ProcessNode;
  readonly network: ProcessNetwork;
  readonly ca: CertificateAuthority;
  readonly nodeId: string;
  readonly client: NodeManagementClient;
  readonly dir: string;

  private constructor(fields: {
    node: ProcessNode;
    network: ProcessNetwork;
    ca: CertificateAuthority;
    nodeId: string;
    client: NodeManagementClient;
    dir: string;
  }) {
    this.node = fields.node;
    this.network = fields.network;
    this.ca = fields.ca;
    this.nodeId = fields.nodeId;
    this.client = fields.client;
    this.dir = fields.dir;
  }

  /** Creates, installs and powers on a node on its own bridge and /28 of 10.1.0.0/24. */
  static async start(t: Teardown, options: TestNodeOptions): Promise<TestNode> {
    const dir = await mkdtemp(join(tmpdir(), 'agent-node-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const suffix = randomBytes(3).toString('hex');
    const network = options.network ?? (await ProcessNetwork.createIsolated());
    if (options.network === undefined) t.teardown(() => network.destroy());
    const node = await ProcessNode.create({
      dir: join(dir, 'node'),
      name: `t${suffix}`,
      network,
      agentArgs: options.agentArgs ?? [],
      rebootDelayMs: 200,
      ...(options.slotSize === undefined ? {} : { slotSize: options.slotSize }),
      parameters: {
        releaseKeys: [await readFile(devPublicKeyPem, 'utf8')],
        // The fixtures sign with the public development key, which only such a node trusts.
        development: true,
        ...options.parameters,
      },
    });
    if (options.dataPartitionBytes !== undefined) {
      // Mounted before the node's teardown is registered, so it is unmounted after shutdown.
      const data = join(node.dir, 'data');
      await mkdir(data, { recursive: true });
      const size = `size=${String(options.dataPartitionBytes)}`;
      await promisify(execFile)('mount', ['-t', 'tmpfs', '-o', size, 'metropolis-data', data]);
      t.teardown(() => promisify(execFile)('umount', [data]));
    }
    t.teardown(() => node.shutdown());
    const address = node.address ?? '';
    const ca = await CertificateAuthority.create({ commonName: 'test cluster CA' });
    const nodeId =
      options.owned === false
        ? ''
        : await preseedNode(new NodeLayout(agentRoots(node.layout)), ca, address);
    await node.install({
      systemImage: options.release.systemImage,
      loader: options.release.loader,
    });
    await node.powerOn();

    const client = await clientFor(ca, address, certificateRoles.operator, 'operator');
    t.teardown(() => {
      client.close();
      return Promise.resolve();
    });
    const testNode = new TestNode({ node, network, ca, nodeId, client, dir: node.dir });
    if (options.owned !== false)
      await testNode.waitFor((status) => status.nodeId === nodeId, 30_000);
    return testNode;
  }

  get address(): string {
    return this.node.address ?? '';
  }

  /** The files the agent sees (data partition, ESP), by their roles. */
  get agentLayout(): NodeLayout {
    return new NodeLayout(agentRoots(this.node.layout));
  }

  /** The agent's structured log lines so far, over every boot (from the node's console). */
  async logEntries(): Promise<LogEntry[]> {
    const console = await readFile(this.node.layout.consoleLog, 'utf8').catch(() => '');
    return console
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogEntry);
  }

  /** Resolves once the agent logged `message` (and, if given, with these fields). */
  async logged(
    message: string,
    fields: Record<string, unknown> = {},
    timeoutMs = 30_000,
  ): Promise<LogEntry> {
    return eventually(async () => {
      const found = (await this.logEntries()).find(
        (entry) =>
          entry.message === message &&
          Object.entries(fields).every(([key, value]) => entry[key] === value),
      );
      if (found === undefined) throw new Error(`not logged yet: ${message}`);
      return found;
    }, timeoutMs);
  }

  status(): Promise<NodeStatus> {
    return unary((callback) => this.client.getStatus({}, callback));
  }

  /** Polls GetStatus (riding out reboots) until `predicate` holds. */
  async waitFor(
    predicate: (status: NodeStatus) => boolean,
    timeoutMs: number,
  ): Promise<NodeStatus> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown = 'no answer';
    while (Date.now() < deadline) {
      try {
        const status = await this.status();
        if (predicate(status)) return status;
        last = status;
      } catch (error) {
        last = error;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(
      `node did not reach the expected status in ${String(timeoutMs)} ms; last: ${JSON.stringify(last)}`,
    );
  }

  /** StageUpdate; resolves with every progress message, rejects with the gRPC error. */
  stage(
    url: string,
    sha256: string,
    expectedVersion = '',
    allowDowngrade = false,
  ): Promise<StageUpdateProgress[]> {
    return collect(this.client.stageUpdate({ url, sha256, expectedVersion, allowDowngrade }));
  }

  rollback(): Promise<BootState> {
    return unary((callback) => this.client.rollback({}, callback));
  }

  setNextBoot(slot: BootState['runningSlot']): Promise<BootState> {
    return unary((callback) => this.client.setNextBoot({ slot }, callback));
  }

  commitBoot(): Promise<BootState> {
    return unary((callback) => this.client.commitBoot({}, callback));
  }

  /** Reboot; with `expectedBootTimeUnixMs`, only that boot of the agent reboots. */
  reboot(expectedBootTimeUnixMs = 0): Promise<RebootResponse> {
    return unary((callback) => this.client.reboot({ expectedBootTimeUnixMs }, callback));
  }

  /** sha256 of every file standing in for the slots, the ESP and efivarfs. */
  async diskFingerprint(): Promise<Record<string, string>> {
    const result: Record<string, string> = {};
    for (const part of ['system-a', 'system-b']) {
      result[part] = sha256Of(await readFile(join(this.dir, part)));
    }
    for (const part of ['esp', 'efivars']) {
      for (const file of await walk(join(this.dir, part))) {
        result[file.slice(this.dir.length + 1)] = sha256Of(await readFile(file));
      }
    }
    return result;
  }
}

/** A client whose certificate carries `role`. */
export async function clientFor(
  ca: CertificateAuthority,
  address: string,
  role: string,
  commonName: string,
): Promise<NodeManagementClient> {
  const issued = await ca.issue({ commonName, organizations: [role], usages: ['client'] });
  return new NodeManagementClient(
    `${address}:${String(nodeManagementPort)}`,
    credentials.createSsl(
      Buffer.from(ca.certificatePem),
      Buffer.from(await issued.keyPair.privateKeyPem()),
      Buffer.from(issued.certificatePem),
    ),
  );
}

type Callback<T> = (error: Error | null, response?: T) => void;

export function unary<T>(call: (callback: Callback<T>) => unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    call((error, response) => {
      if (error) reject(error);
      else if (response === undefined) reject(new Error('empty response'));
      else resolve(response);
    });
  });
}

export function collect<T>(stream: ClientReadableStream<T>): Promise<T[]> {
  const items: T[] = [];
  return new Promise((resolve, reject) => {
    stream.on('data', (item: T) => items.push(item));
    stream.on('error', reject);
    stream.on('end', () => {
      resolve(items);
    });
  });
}

/** The PID of the agent of the node in `nodeDir`: the process that runs its rootfs's program. */
export async function agentPid(nodeDir: string): Promise<number | undefined> {
  const script = join(nodeDir, 'run', 'rootfs', 'node-agent.mjs');
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.split('\0').includes(script)) return Number(entry);
  }
  return undefined;
}

/** A process's resident set (`VmRSS`) and its anonymous part (`RssAnon`: heaps, not code), MiB. */
export async function residentMiB(pid: number): Promise<{ rss: number; anon: number }> {
  const status = await readFile(`/proc/${String(pid)}/status`, 'utf8');
  const kib = (field: string): number =>
    Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 'NaN');
  return { rss: kib('VmRSS') / 1024, anon: kib('RssAnon') / 1024 };
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(path)));
    else out.push(path);
  }
  return out.sort();
}

export { nodeManagementPort };

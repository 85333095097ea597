// A real node agent for operator tests: a release built by the os-image CLI, booted in a process
// node (network namespace + firmware emulator) with certificates from the test cluster's CA.
// After node-agent/test/fixture-node.ts; programs never import each other, so this is a copy.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { certificateRoles } from '@metropolis/api';
import { KeyPair, type CertificateAuthority } from '@metropolis/pki';
import { ProcessNetwork, ProcessNode } from '@metropolis/process-node';

const repo = join(import.meta.dirname, '..', '..');
const devKeyPem = join(repo, 'os-image', 'keys', 'dev-release.key.pem');
const devPublicKeyPem = join(repo, 'os-image', 'keys', 'dev-release.pub.pem');
const osImage = join(repo, 'node_modules', '.bin', 'metropolis-os-image');

export interface Teardown {
  teardown(fn: () => Promise<unknown>): void;
}

/** A release: its signed bundle, and its payloads ready to install on a fresh node. */
export interface Release {
  readonly version: string;
  readonly bundle: string;
  /** sha256 of the whole bundle, as an OSUpdate pins it. */
  readonly sha256: string;
  readonly systemImage: string;
  readonly loader: string;
}

/** Builds a process-flavour release with the os-image CLI, as a release engineer would. */
export async function buildRelease(dir: string, version: string): Promise<Release> {
  const bundle = join(dir, `${version}.bundle`);
  await promisify(execFile)(
    osImage,
    ['bundle', '--version', version, '--flavour', 'process', '--key', devKeyPem, '--out', bundle],
    { maxBuffer: 1 << 24 },
  );
  // The installer's part: the payloads out of the bundle (docs/bundle-format.md, byte layout).
  // The CLI verified what it wrote; the agent is not asked to trust anything from here.
  const bytes = await readFile(bundle);
  const manifestLength = bytes.readUInt32LE(8);
  const manifest = JSON.parse(bytes.subarray(12, 12 + manifestLength).toString('utf8')) as {
    files: { role: string; size: number }[];
  };
  let offset = 14 + manifestLength + bytes.readUInt16LE(12 + manifestLength);
  const payloads: Record<string, string> = {};
  for (const file of manifest.files) {
    const path = join(dir, `${version}.${file.role}`);
    await writeFile(path, bytes.subarray(offset, offset + file.size));
    payloads[file.role] = path;
    offset += file.size;
  }
  const systemImage = payloads.system;
  const loader = payloads.loader;
  if (systemImage === undefined || loader === undefined) {
    throw new Error(`bundle ${bundle} lacks a system or loader payload`);
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return { version, bundle, sha256, systemImage, loader };
}

export interface TestNodeOptions {
  readonly release: Release;
  /** The cluster CA that signs the node's certificate (and the operator's). */
  readonly ca: CertificateAuthority;
  readonly agentArgs?: readonly string[];
  /** Share a network with other nodes (default: a network of its own). */
  readonly network?: ProcessNetwork;
}

/** A booted process node holding cluster certificates, as if it had joined. */
export class TestNode {
  readonly node: ProcessNode;
  readonly nodeId: string;

  private constructor(node: ProcessNode, nodeId: string) {
    this.node = node;
    this.nodeId = nodeId;
  }

  /** Creates, installs and powers on a node on a network (a /28 of 10.1.0.0/24) of its own. */
  static async start(t: Teardown, options: TestNodeOptions): Promise<TestNode> {
    const dir = await mkdtemp(join(tmpdir(), 'operator-node-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const network = options.network ?? (await ProcessNetwork.createIsolated());
    if (options.network === undefined) t.teardown(() => network.destroy());
    const node = await ProcessNode.create({
      dir: join(dir, 'node'),
      name: `o${randomBytes(3).toString('hex')}`,
      network,
      agentArgs: options.agentArgs ?? [],
      rebootDelayMs: 200,
      parameters: { releaseKeys: [await readFile(devPublicKeyPem, 'utf8')] },
    });
    t.teardown(() => node.shutdown());
    const nodeId = await preseed(node.dir, options.ca, node.address ?? '');
    await node.install({
      systemImage: options.release.systemImage,
      loader: options.release.loader,
    });
    await node.powerOn();
    return new TestNode(node, nodeId);
  }

  get address(): string {
    return this.node.address ?? '';
  }
}

/** What joining a cluster leaves on the data partition: the node key and its certificate. */
async function preseed(
  nodeDir: string,
  ca: CertificateAuthority,
  address: string,
): Promise<string> {
  const nodeKey = await KeyPair.generate();
  const nodeId = `metropolis-${Buffer.from((await nodeKey.rawPublicKey()).subarray(0, 16)).toString('hex')}`;
  await mkdir(join(nodeDir, 'data', 'identity'), { recursive: true });
  await mkdir(join(nodeDir, 'data', 'pki'), { recursive: true });
  await writeFile(
    join(nodeDir, 'data', 'identity', 'node-key.pem'),
    await nodeKey.privateKeyPem(),
    {
      mode: 0o600,
    },
  );
  await writeFile(join(nodeDir, 'data', 'pki', 'ca.pem'), ca.certificatePem);
  await writeFile(
    join(nodeDir, 'data', 'pki', 'node.pem'),
    await ca.certify(nodeKey.publicKey, {
      commonName: nodeId,
      organizations: [certificateRoles.node],
      usages: ['server', 'client'],
      hosts: [address],
    }),
  );
  return nodeId;
}

// A real node agent for operator tests: a release built by the os-image CLI, booted in a process
// node (network namespace + firmware emulator) with certificates from the test cluster's CA.
// After node-agent/test/fixture-node.ts (programs never import each other); what both need is in
// @metropolis/testing.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { NodeLayout } from '@metropolis/api';
import type { CertificateAuthority } from '@metropolis/pki';
import { ProcessNetwork, ProcessNode, agentRoots } from '@metropolis/process-node';
import { extractPayloads, preseedNode } from '@metropolis/testing';

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
  // The installer's part: the payloads out of the bundle, verified against the dev release key.
  const payloads = await extractPayloads(
    bundle,
    join(dir, version),
    await readFile(devPublicKeyPem, 'utf8'),
  );
  const sha256 = createHash('sha256')
    .update(await readFile(bundle))
    .digest('hex');
  return { version, bundle, sha256, ...payloads };
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
      parameters: { releaseKeys: [await readFile(devPublicKeyPem, 'utf8')], development: true },
    });
    t.teardown(() => node.shutdown());
    const nodeId = await preseedNode(
      new NodeLayout(agentRoots(node.layout)),
      options.ca,
      node.address ?? '',
    );
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

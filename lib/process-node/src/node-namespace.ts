// A node's network namespace: `eth0` with the node's address, plugged into the bridge through a
// veth pair, and lo up. No default route: a node reaches its subnet and nothing beyond it.
import { createHash } from 'node:crypto';
import { ProcessNodeError } from './errors.js';
import { linkExists, type ProcessNetwork } from './process-network.js';
import { runIp, runIpSyncQuietly } from './run-ip.js';

/** A created namespace, attached to a bridge. */
export class NodeNamespace {
  readonly name: string;
  /** The host end of the veth pair, on the bridge. */
  readonly hostLink: string;

  private constructor(name: string, hostLink: string) {
    this.name = name;
    this.hostLink = hostLink;
  }

  /**
   * Creates namespace `name` with `address` on its eth0, attached to `network`'s bridge.
   * @throws {ProcessNodeError} `NETWORK_EXISTS` when the namespace or link exists already.
   */
  static async create(
    name: string,
    network: ProcessNetwork,
    address: string,
  ): Promise<NodeNamespace> {
    const namespace = new NodeNamespace(name, hostLinkName(name));
    if (await namespaceExists(name)) {
      throw new ProcessNodeError(
        'NETWORK_EXISTS',
        `network namespace ${name} exists already (a leftover? remove it with: ip netns del ${name})`,
      );
    }
    if (await linkExists(namespace.hostLink)) {
      throw new ProcessNodeError('NETWORK_EXISTS', `link ${namespace.hostLink} exists already`);
    }
    await runIp(['netns', 'add', name]);
    try {
      const inside = ['-n', name];
      await runIp([
        'link',
        'add',
        namespace.hostLink,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'address',
        macFor(address),
        'netns',
        name,
      ]);
      await runIp(['link', 'set', 'dev', namespace.hostLink, 'master', network.bridge, 'up']);
      await runIp([...inside, 'link', 'set', 'dev', 'lo', 'up']);
      await runIp([
        ...inside,
        'addr',
        'add',
        `${address}/${String(network.prefixLength)}`,
        'dev',
        'eth0',
      ]);
      await runIp([...inside, 'link', 'set', 'dev', 'eth0', 'up']);
    } catch (error) {
      await namespace.destroy();
      throw error;
    }
    return namespace;
  }

  /** PIDs of every process in the namespace. */
  async pids(): Promise<number[]> {
    const out = await runIp(['netns', 'pids', this.name]).catch(() => '');
    return out
      .split('\n')
      .filter((line) => /^\d+$/.test(line.trim()))
      .map(Number);
  }

  /** Deletes the veth pair and the namespace; either may already be gone. */
  async destroy(): Promise<void> {
    if (await linkExists(this.hostLink)) await runIp(['link', 'del', 'dev', this.hostLink]);
    if (await namespaceExists(this.name)) await runIp(['netns', 'del', this.name]);
  }

  /** {@link destroy} for process 'exit' handlers. */
  destroySync(): void {
    runIpSyncQuietly(['link', 'del', 'dev', this.hostLink]);
    runIpSyncQuietly(['netns', 'del', this.name]);
  }
}

/** `mtv` + 10 hex digits of the namespace name: unique per node, within the 15-byte limit. */
function hostLinkName(namespace: string): string {
  return `mtv${createHash('sha256').update(namespace).digest('hex').slice(0, 10)}`;
}

async function namespaceExists(name: string): Promise<boolean> {
  const list = await runIp(['netns', 'list']);
  // Lines look like `mtr-node0 (id: 3)` or just `mtr-node0`.
  return list.split('\n').some((line) => line.split(' ')[0] === name);
}

/**
 * The node's MAC address, fixed by its IPv4 address like a NIC's burned-in address: a node
 * that reboots keeps it, so the host's ARP entry stays valid (a new random MAC would leave the
 * host sending to the old one until the entry went stale). 52:54:00 is qemu's prefix.
 */
export function macFor(address: string): string {
  const octets = address
    .split('.')
    .slice(1)
    .map((octet) => Number(octet).toString(16).padStart(2, '0'));
  return `52:54:00:${octets.join(':')}`;
}

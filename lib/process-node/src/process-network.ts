// The switch of a process-node cluster: one Linux bridge with the host's address on it, like
// Monogon's nanoswitch on 10.1.0.0/24, but without DHCP, NAT or any route out of the subnet.
import { ProcessNodeError } from './errors.js';
import { Ipv4Subnet } from './ipv4-subnet.js';
import { onProcessExit } from './on-process-exit.js';
import { runIp, runIpSyncQuietly } from './run-ip.js';
import { leaseSubnet } from './subnet-lease.js';

export interface ProcessNetworkOptions {
  /** Bridge name, at most 15 characters. @default 'mtrbr0' */
  readonly bridge?: string;
  /** The host's address on the bridge. @default '10.1.0.1' */
  readonly hostAddress?: string;
  /** @default 24 */
  readonly prefixLength?: number;
}

/**
 * A bridge that process nodes attach to. Tests that run side by side use separate bridges and
 * disjoint subnets (e.g. a random /28 of 10.1.0.0/24). Always {@link ProcessNetwork.destroy} it.
 */
export class ProcessNetwork {
  readonly bridge: string;
  readonly hostAddress: string;
  readonly prefixLength: number;
  readonly #subnet: Ipv4Subnet;
  readonly #taken = new Set<string>();
  #cancelExitCleanup: (() => void) | undefined;
  #release: (() => Promise<void>) | undefined;
  #destroyed = false;

  private constructor(bridge: string, hostAddress: string, subnet: Ipv4Subnet) {
    this.bridge = bridge;
    this.hostAddress = hostAddress;
    this.prefixLength = subnet.prefixLength;
    this.#subnet = subnet;
    this.#taken.add(hostAddress);
  }

  /**
   * Creates the bridge, puts `hostAddress/prefixLength` on it and brings it up.
   * @throws {ProcessNodeError} `NETWORK_EXISTS` when a link of that name exists already.
   */
  static async create(options: ProcessNetworkOptions = {}): Promise<ProcessNetwork> {
    const bridge = options.bridge ?? 'mtrbr0';
    const hostAddress = options.hostAddress ?? '10.1.0.1';
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(bridge)) {
      throw new ProcessNodeError('OPTIONS_INVALID', `not a usable interface name: ${bridge}`);
    }
    const subnet = new Ipv4Subnet(hostAddress, options.prefixLength ?? 24);
    if (!subnet.hosts(hostAddress)) {
      throw new ProcessNodeError(
        'NETWORK_ADDRESS_INVALID',
        `${hostAddress} is not a host address of its /${String(subnet.prefixLength)}`,
      );
    }
    if (await linkExists(bridge)) {
      throw new ProcessNodeError(
        'NETWORK_EXISTS',
        `link ${bridge} exists already (a leftover? remove it with: ip link del ${bridge})`,
      );
    }
    const network = new ProcessNetwork(bridge, hostAddress, subnet);
    await runIp(['link', 'add', 'name', bridge, 'type', 'bridge']);
    network.#cancelExitCleanup = onProcessExit(() => {
      runIpSyncQuietly(['link', 'del', 'dev', bridge]);
    });
    try {
      await runIp(['addr', 'add', `${hostAddress}/${String(subnet.prefixLength)}`, 'dev', bridge]);
      await runIp(['link', 'set', 'dev', bridge, 'up']);
    } catch (error) {
      await network.destroy();
      throw error;
    }
    return network;
  }

  /**
   * A network on a block of 10.1.0.0/24 that no other process on this host holds: what tests
   * running side by side use. The lease ends with {@link ProcessNetwork.destroy}.
   */
  static async createIsolated(prefixLength = 28): Promise<ProcessNetwork> {
    const lease = await leaseSubnet(prefixLength);
    try {
      const network = await ProcessNetwork.create(lease);
      network.#release = () => lease.release();
      return network;
    } catch (error) {
      await lease.release();
      throw error;
    }
  }

  /**
   * Claims the lowest free host address of the subnet for a node.
   * @throws {ProcessNodeError} `NETWORK_ADDRESSES_EXHAUSTED`
   */
  allocateAddress(): string {
    for (const address of this.#subnet.addresses()) {
      if (!this.#taken.has(address)) {
        this.#taken.add(address);
        return address;
      }
    }
    throw new ProcessNodeError(
      'NETWORK_ADDRESSES_EXHAUSTED',
      `no free address left on ${this.bridge}`,
    );
  }

  /**
   * Claims `address` for a node.
   * @throws {ProcessNodeError} `NETWORK_ADDRESS_INVALID` when it is outside the subnet or taken.
   */
  reserveAddress(address: string): void {
    if (!this.#subnet.hosts(address)) {
      throw new ProcessNodeError(
        'NETWORK_ADDRESS_INVALID',
        `${address} is not in ${this.hostAddress}/${String(this.prefixLength)}`,
      );
    }
    if (this.#taken.has(address)) {
      throw new ProcessNodeError('NETWORK_ADDRESS_INVALID', `${address} is taken`);
    }
    this.#taken.add(address);
  }

  /** Deletes the bridge. Shut the nodes down first. Safe to call twice. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#cancelExitCleanup?.();
    if (await linkExists(this.bridge)) await runIp(['link', 'del', 'dev', this.bridge]);
    await this.#release?.();
  }
}

/** Whether a network interface of that name exists in the host namespace. */
export async function linkExists(name: string): Promise<boolean> {
  try {
    await runIp(['link', 'show', 'dev', name]);
    return true;
  } catch {
    return false;
  }
}

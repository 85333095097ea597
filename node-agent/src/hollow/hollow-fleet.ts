// Many hollow nodes in one process, each on its own loopback address with its own directory,
// identity and certificate: a fleet for scale tests against a real cluster.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { HollowNode, type HollowNodeOptions } from './hollow-node.js';

export interface HollowFleetOptions {
  readonly count: number;
  /** The first node's address; node i gets this address + i (e.g. 127.1.0.1, 127.1.0.2, ...). */
  readonly firstAddress: string;
  /** Node i lives in `<dir>/hollow-<i>`. */
  readonly dir: string;
  readonly install: { readonly systemImage: string; readonly loader: string };
  /** The node parameters every node gets on its ESP (release keys, how to join). */
  readonly parameters: string;
  /** How many nodes boot at the same time. */
  readonly bootConcurrency: number;
  readonly node: Omit<HollowNodeOptions, 'name' | 'dir' | 'address' | 'logTo'>;
  readonly logTo: Writable;
}

/** Written into the fleet's directory once every node exists: name, address, boot records. */
export const fleetManifestFile = 'fleet.json';

/** `address` + `offset` as dotted IPv4. */
export function addressAt(address: string, offset: number): string {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((part) => !Number.isInteger(part) || part < 0 || part > 255))
    throw new Error(`${address} is not an IPv4 address`);
  const value = parts.reduce((sum, part) => sum * 256 + part, 0) + offset;
  if (value > 0xffff_ffff)
    throw new Error(`${address} + ${String(offset)} is past 255.255.255.255`);
  return [24, 16, 8, 0].map((shift) => String(Math.floor(value / 2 ** shift) % 256)).join('.');
}

/** The name of node `index`, also its directory's. */
function hollowNodeName(index: number): string {
  return `hollow-${String(index).padStart(4, '0')}`;
}

export class HollowFleet {
  readonly nodes: readonly HollowNode[];

  private constructor(nodes: readonly HollowNode[]) {
    this.nodes = nodes;
  }

  /** Creates and boots every node; resolves once each has booted once. */
  static async start(options: HollowFleetOptions): Promise<HollowFleet> {
    const nodes: HollowNode[] = [];
    for (let index = 0; index < options.count; index++) {
      const name = hollowNodeName(index);
      nodes.push(
        await HollowNode.create(
          {
            ...options.node,
            name,
            dir: join(options.dir, name),
            address: addressAt(options.firstAddress, index),
            logTo: options.logTo,
          },
          options.install,
          options.parameters,
        ),
      );
    }
    // The fleet's own description, for whoever drives it (a harness, a person): which node has
    // which address, and where its boot records are.
    const manifest = nodes.map((node) => ({
      name: node.name,
      address: node.address,
      dir: node.directory.dir,
      bootsLog: node.directory.bootsLog,
    }));
    await writeFile(
      join(options.dir, fleetManifestFile),
      `${JSON.stringify({ nodes: manifest }, null, 2)}\n`,
    );
    const fleet = new HollowFleet(nodes);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < nodes.length) {
        const node = nodes[next++];
        await node?.powerOn();
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, options.bootConcurrency) }, worker));
    return fleet;
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.shutdown()));
  }
}

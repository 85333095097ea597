// IPv4 addresses as numbers, just enough to check that node addresses sit in the bridge's subnet.
import { ProcessNodeError } from './errors.js';

/** An IPv4 subnet given by one of its addresses and a prefix length. */
export class Ipv4Subnet {
  /** Network address as an unsigned 32-bit number. */
  readonly network: number;
  readonly prefixLength: number;

  constructor(address: string, prefixLength: number) {
    if (!Number.isInteger(prefixLength) || prefixLength < 8 || prefixLength > 30) {
      throw new ProcessNodeError(
        'NETWORK_ADDRESS_INVALID',
        `prefix length ${String(prefixLength)} is not within 8..30`,
      );
    }
    this.prefixLength = prefixLength;
    this.network = (parseIpv4(address) & this.#mask()) >>> 0;
  }

  /** Whether `address` is a host address of this subnet (not the network or broadcast). */
  hosts(address: string): boolean {
    const value = parseIpv4(address);
    const broadcast = (this.network | ~this.#mask()) >>> 0;
    return (
      (value & this.#mask()) >>> 0 === this.network && value !== this.network && value !== broadcast
    );
  }

  /** Host addresses in ascending order. */
  *addresses(): Generator<string> {
    const count = 2 ** (32 - this.prefixLength);
    for (let i = 1; i < count - 1; i++) yield formatIpv4(this.network + i);
  }

  #mask(): number {
    return (0xffffffff << (32 - this.prefixLength)) >>> 0;
  }
}

/**
 * Parses dotted-quad IPv4.
 * @throws {ProcessNodeError} `NETWORK_ADDRESS_INVALID`
 */
export function parseIpv4(address: string): number {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  const octets = match?.slice(1).map(Number) ?? [];
  if (octets.length !== 4 || octets.some((octet) => octet > 255)) {
    throw new ProcessNodeError('NETWORK_ADDRESS_INVALID', `not an IPv4 address: ${address}`);
  }
  return octets.reduce((value, octet) => value * 256 + octet, 0);
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => String((value >>> shift) & 0xff)).join('.');
}

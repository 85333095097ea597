// Subnet arithmetic for node addresses.
import test from 'ava';
import { ProcessNodeError } from './errors.js';
import { formatIpv4, Ipv4Subnet, parseIpv4 } from './ipv4-subnet.js';

/** What a refused address or prefix length throws. */
function invalid(message: RegExp) {
  return { instanceOf: ProcessNodeError, message };
}

test('parses and formats dotted quads', (t) => {
  t.is(parseIpv4('10.1.0.1'), 0x0a010001);
  t.is(formatIpv4(0xffffffff), '255.255.255.255');
  for (const address of ['10.1.0.256', '10.1.0']) {
    const error = t.throws(() => parseIpv4(address), invalid(/not an IPv4 address: /));
    t.is(error.code, 'NETWORK_ADDRESS_INVALID');
  }
});

test('a /28 has 14 host addresses, without network and broadcast', (t) => {
  const subnet = new Ipv4Subnet('10.1.0.49', 28);
  const addresses = [...subnet.addresses()];
  t.is(addresses.length, 14);
  t.is(addresses[0], '10.1.0.49');
  t.is(addresses.at(-1), '10.1.0.62');
  t.true(subnet.hosts('10.1.0.50'));
  t.false(subnet.hosts('10.1.0.48'));
  t.false(subnet.hosts('10.1.0.63'));
  t.false(subnet.hosts('10.1.0.2'));
});

test('refuses prefix lengths that leave no room for a bridge and nodes', (t) => {
  for (const prefixLength of [31, 7]) {
    const error = t.throws(
      () => new Ipv4Subnet('10.1.0.1', prefixLength),
      invalid(new RegExp(`prefix length ${String(prefixLength)} is not within 8\\.\\.30`)),
    );
    t.is(error.code, 'NETWORK_ADDRESS_INVALID');
  }
});

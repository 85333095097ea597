// Subnet arithmetic for node addresses.
import test from 'ava';
import { formatIpv4, Ipv4Subnet, parseIpv4 } from './ipv4-subnet.js';

test('parses and formats dotted quads', (t) => {
  t.is(parseIpv4('10.1.0.1'), 0x0a010001);
  t.is(formatIpv4(0xffffffff), '255.255.255.255');
  t.throws(() => parseIpv4('10.1.0.256'));
  t.throws(() => parseIpv4('10.1.0'));
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
  t.throws(() => new Ipv4Subnet('10.1.0.1', 31));
  t.throws(() => new Ipv4Subnet('10.1.0.1', 7));
});

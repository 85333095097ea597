import test from 'ava';
import { addressOfPeerUrl, peerUrlOf } from './etcd-membership.js';

test("a member's agent is found by the address in its peer URL, IPv4 or IPv6", (t) => {
  t.is(addressOfPeerUrl(peerUrlOf('10.1.0.7')), '10.1.0.7');
  t.is(addressOfPeerUrl(peerUrlOf('fd00::7')), 'fd00::7');
  t.is(addressOfPeerUrl('not a url'), '');
});

import test from 'ava';
import { macFor } from './node-namespace.js';

test('a node keeps its MAC address across boots: it follows from its IPv4 address', (t) => {
  t.is(macFor('10.1.0.2'), '52:54:00:01:00:02');
  t.is(macFor('10.1.0.171'), '52:54:00:01:00:ab');
});

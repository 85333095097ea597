import test from 'ava';
import { isNodeId, nodeIdOf } from './node-id.js';

test('the node ID is metropolis- and the hex of the first 16 public key bytes', (t) => {
  const key = Uint8Array.from({ length: 32 }, (_, i) => i);
  t.is(nodeIdOf(key), 'metropolis-000102030405060708090a0b0c0d0e0f');
  t.true(isNodeId(nodeIdOf(key)));
});

test('isNodeId refuses other shapes', (t) => {
  for (const text of ['metropolis-', `metropolis-${'A'.repeat(32)}`, `node-${'0'.repeat(32)}`]) {
    t.false(isNodeId(text), text);
  }
});

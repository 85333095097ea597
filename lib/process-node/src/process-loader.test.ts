// The firmware refuses what is not a process loader with a typed error (the format's own tests
// are in @metropolis/api).
import test from 'ava';
import { encodeProcessLoader } from '@metropolis/api';
import { parseProcessLoader, ProcessNodeError } from '@metropolis/process-node';

test('a loader parses', (t) => {
  const bytes = encodeProcessLoader({ version: 'v0.2.0', cmdline: 'root=PARTLABEL=X' });
  t.like(parseProcessLoader(bytes), { version: 'v0.2.0', cmdline: 'root=PARTLABEL=X' });
});

test('anything else is LOADER_INVALID, with the reason', (t) => {
  const bytes = new TextEncoder().encode('null');
  const error = t.throws(() => parseProcessLoader(bytes), { instanceOf: ProcessNodeError });
  t.is(error.code, 'LOADER_INVALID');
  t.is(error.message, 'not a process loader: not a JSON object');
});

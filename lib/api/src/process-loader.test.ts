// Process loaders: the one format the process firmware starts and the image builder writes;
// everything else is refused.
import test from 'ava';
import { decodeProcessLoader, encodeProcessLoader } from './process-loader.js';

function parseProcessLoader(bytes: Uint8Array) {
  const decoded = decodeProcessLoader(bytes);
  if ('invalid' in decoded) throw new Error(decoded.invalid);
  return decoded.loader;
}

const text = (value: string): Uint8Array => new TextEncoder().encode(value);

test('a loader round-trips', (t) => {
  const bytes = encodeProcessLoader({
    version: 'v0.2.0',
    cmdline: 'console=ttyS0 root=PARTLABEL=METROPOLIS-SYSTEM-X',
  });
  t.deepEqual(parseProcessLoader(bytes), {
    kind: 'metropolis-process-loader',
    formatVersion: 1,
    version: 'v0.2.0',
    cmdline: 'console=ttyS0 root=PARTLABEL=METROPOLIS-SYSTEM-X',
  });
});

test('the encoding is JSON in field order without a trailing newline', (t) => {
  t.is(
    new TextDecoder().decode(encodeProcessLoader({ version: 'v1', cmdline: 'c' })),
    '{"kind":"metropolis-process-loader","formatVersion":1,"version":"v1","cmdline":"c"}',
  );
});

test('the contract example parses', (t) => {
  const loader = parseProcessLoader(
    text(
      '{"kind":"metropolis-process-loader","formatVersion":1,"version":"v0.2.0","cmdline":"console=ttyS0 root=PARTLABEL=METROPOLIS-SYSTEM-X"}',
    ),
  );
  t.is(loader.version, 'v0.2.0');
});

const invalid: ReadonlyArray<[string, Uint8Array]> = [
  ['empty', new Uint8Array()],
  ['garbage', new Uint8Array([0x4d, 0x5a, 0x90, 0x00, 0xff, 0xfe])],
  ['truncated JSON', text('{"kind":"metropolis-process-loader","formatVer')],
  ['another kind', text('{"kind":"uki","formatVersion":1,"version":"v1","cmdline":""}')],
  [
    'a future format',
    text('{"kind":"metropolis-process-loader","formatVersion":2,"version":"v1","cmdline":""}'),
  ],
  ['no version', text('{"kind":"metropolis-process-loader","formatVersion":1,"cmdline":""}')],
  [
    'a numeric cmdline',
    text('{"kind":"metropolis-process-loader","formatVersion":1,"version":"v1","cmdline":1}'),
  ],
  ['an array', text('[1,2]')],
  ['too large', new Uint8Array(65 * 1024).fill(0x20)],
];

for (const [name, bytes] of invalid) {
  test(`refuses ${name}`, (t) => {
    t.true('invalid' in decodeProcessLoader(bytes));
  });
}

import test from 'ava';
import { PassThrough } from 'node:stream';
import { LogRing, createLogger } from './index.js';

function capture(): { stream: PassThrough; lines: () => string[] } {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line !== ''),
  };
}

test('json loggers write one object per line with child fields merged', (t) => {
  const out = capture();
  const root = createLogger({
    format: 'json',
    destination: out.stream,
    fields: { service: 'agent' },
  });
  root.child({ component: 'slots' }).info('slot activated', { slot: 'A' });
  const [line] = out.lines();
  const parsed = JSON.parse(line ?? '') as Record<string, unknown>;
  t.is(parsed['message'], 'slot activated');
  t.is(parsed['level'], 'info');
  t.is(parsed['service'], 'agent');
  t.is(parsed['component'], 'slots');
  t.is(parsed['slot'], 'A');
  t.is(typeof parsed['timestamp'], 'string');
});

test('cli loggers write readable lines and honour the level', (t) => {
  const out = capture();
  const log = createLogger({ format: 'cli', level: 'info', destination: out.stream });
  log.debug('hidden');
  log.warn('node unreachable', { node: 'metropolis-ab', attempt: 2 });
  t.deepEqual(out.lines(), ['warn: node unreachable node=metropolis-ab attempt=2']);
});

test('a ring keeps the last records with their fields and feeds subscribers', (t) => {
  const out = capture();
  const ring = new LogRing(2);
  const seen: string[] = [];
  const unsubscribe = ring.subscribe((record) => seen.push(record.message));
  const log = createLogger({ format: 'json', destination: out.stream, ring });
  log.child({ component: 'slots' }).info('one', { slot: 'A' });
  log.info('two');
  unsubscribe();
  log.warn('three');
  t.deepEqual(
    ring.recent(-1).map((record) => record.message),
    ['two', 'three'],
  );
  t.deepEqual(seen, ['one', 'two']);
  t.deepEqual(ring.recent(1)[0]?.level, 'warn');
  t.deepEqual(ring.recent(0), []);
});

test('ring records carry structured fields', (t) => {
  const ring = new LogRing();
  createLogger({ format: 'json', destination: capture().stream, ring })
    .child({ component: 'slots' })
    .info('slot activated', { slot: 'B' });
  const [record] = ring.recent(-1);
  t.is(record?.fields['component'], 'slots');
  t.is(record?.fields['slot'], 'B');
});

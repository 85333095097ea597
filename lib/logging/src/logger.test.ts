import test from 'ava';
import { PassThrough } from 'node:stream';
import { createLogger } from './index.js';

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

// The bundler's output is pure ASCII (so V8 stores each module's source at one byte a
// character) and still means what the source meant.
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleAgent } from './agent-bundle.js';

test('a bundle with non-ASCII comments and strings is ASCII and keeps its strings', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'agent-bundle-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const entry = join(dir, 'entry.ts');
  await writeFile(
    entry,
    [
      '// RFC 4291 \u00a72.7 \u2014 \u201cquoted\u201d \u{1f600}',
      'export const text = `caf\u00e9 \u2013 \u{1f600}`;',
      'export const pattern = /\u2014/u;',
    ].join('\n'),
  );
  const [file] = await bundleAgent(entry, dir, 'program');
  t.truthy(file);
  if (file === undefined) return;
  t.false(file.contents.some((byte) => byte > 0x7f));
  const bundled = join(dir, file.name);
  await writeFile(bundled, file.contents);
  const loaded = (await import(bundled)) as { text: string; pattern: RegExp };
  t.is(loaded.text, 'caf\u00e9 \u2013 \u{1f600}');
  t.true(loaded.pattern.test('a\u2014b'));
});

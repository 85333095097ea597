// writeBundle: what it writes reads back, twice gives the same bytes, failures leave nothing.
import test from 'ava';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chunked, generateSigningKey, memorySinks, sha256 } from '../test/bundle-fixture.js';
import {
  BundleError,
  readBundle,
  writeBundle,
  type BundleErrorCode,
  type WriteBundleOptions,
} from './index.js';

const { key, privatePem } = generateSigningKey();

async function fixture(): Promise<{ dir: string; options: WriteBundleOptions }> {
  const dir = await mkdtemp(join(tmpdir(), 'bundle-write-'));
  await writeFile(join(dir, 'loader.efi'), 'loader');
  await writeFile(join(dir, 'system.img'), Buffer.alloc(3 * 1024 * 1024 + 1, 1));
  return {
    dir,
    options: {
      version: 'v0.2.0',
      flavour: 'process',
      architecture: 'x86_64',
      signingKeyPem: privatePem,
      files: [
        { name: 'loader.efi', role: 'loader', path: join(dir, 'loader.efi') },
        { name: 'system.img', role: 'system', path: join(dir, 'system.img') },
      ],
    },
  };
}

test('a written bundle reads back, and its reported size and sha256 are the file', async (t) => {
  const { dir, options } = await fixture();
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, 'bundle.bin');
  const written = await writeBundle(out, options);
  const bytes = await readFile(out);
  t.is(written.size, bytes.length);
  t.is(written.sha256, sha256(bytes));
  t.is(written.manifest.keyId, key.keyId);
  t.deepEqual(
    written.manifest.files.map((file) => [file.name, file.size]),
    [
      ['loader.efi', 6],
      ['system.img', 3 * 1024 * 1024 + 1],
    ],
  );
  const sinks = memorySinks();
  const manifest = await readBundle(chunked(bytes, [4096]), {
    trustedKeys: [key.releaseKey],
    openPayload: sinks.open,
    expectedSha256: written.sha256,
  });
  t.deepEqual(manifest, written.manifest);
  t.is(Buffer.from(sinks.bytes('loader.efi')).toString(), 'loader');
  t.deepEqual(await readdir(dir), ['bundle.bin', 'loader.efi', 'system.img']);
});

test('writing twice gives byte-identical bundles', async (t) => {
  const { dir, options } = await fixture();
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const first = await writeBundle(join(dir, 'a.bin'), options);
  const second = await writeBundle(join(dir, 'b.bin'), options);
  t.is(first.sha256, second.sha256);
  // Buffer#equals: ava's deepEqual is slow on megabytes.
  t.true((await readFile(join(dir, 'a.bin'))).equals(await readFile(join(dir, 'b.bin'))));
});

test('a bundle the reader would refuse is never written, nor is a temp file left', async (t) => {
  const { dir, options } = await fixture();
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, 'bundle.bin');
  const attempts: [Partial<WriteBundleOptions>, BundleErrorCode][] = [
    [{ version: 'v1/../x' }, 'BUNDLE_MALFORMED'],
    [
      { files: [{ name: '../loader.efi', role: 'loader', path: join(dir, 'loader.efi') }] },
      'BUNDLE_PATH_ESCAPES',
    ],
    [
      { files: [{ name: 'loader.efi', role: 'loader', path: join(dir, 'missing') }] },
      'BUNDLE_READ_FAILED',
    ],
    [{ signingKeyPem: 'nope' }, 'BUNDLE_INVALID_KEY'],
  ];
  for (const [patch, code] of attempts) {
    const error = await t.throwsAsync(writeBundle(out, { ...options, ...patch }), {
      instanceOf: BundleError,
    });
    t.is(error.code, code);
  }
  const missingDir = join(dir, 'no', 'such', 'dir', 'bundle.bin');
  const error = await t.throwsAsync(writeBundle(missingDir, options), { instanceOf: BundleError });
  t.is(error.code, 'BUNDLE_WRITE_FAILED');
  t.deepEqual(await readdir(dir), ['loader.efi', 'system.img']);
});

// The manifest rules of docs/bundle-format.md, one by one: what is refused and with which code.
import test from 'ava';
import { generateSigningKey, manifestFor } from '../test/bundle-fixture.js';
import { encodeBundleManifest } from './bundle-manifest.js';
import { BundleError, parseBundleManifest, type BundleErrorCode } from './index.js';

const { key } = generateSigningKey();

function codeOf(value: unknown): BundleErrorCode | 'ok' {
  try {
    parseBundleManifest(value);
    return 'ok';
  } catch (error) {
    if (error instanceof BundleError) return error.code;
    throw error;
  }
}

function withFile(index: number, patch: Record<string, unknown>): Record<string, unknown> {
  const manifest = manifestFor(key);
  const files = (manifest.files as Record<string, unknown>[]).map((file, i) =>
    i === index ? { ...file, ...patch } : file,
  );
  return { ...manifest, files };
}

test('a valid manifest parses to a frozen copy that encodes back to the same JSON', (t) => {
  const value = manifestFor(key);
  const manifest = parseBundleManifest(value);
  t.true(Object.isFrozen(manifest) && Object.isFrozen(manifest.files[0]));
  t.is(Buffer.from(encodeBundleManifest(manifest)).toString(), JSON.stringify(value));
});

test('files may come in any order but need exactly one loader and one system', (t) => {
  const manifest = manifestFor(key);
  const files = manifest.files as Record<string, unknown>[];
  t.is(codeOf({ ...manifest, files: [...files].reverse() }), 'ok');
  t.is(codeOf({ ...manifest, files: [files[0], files[0]] }), 'BUNDLE_MALFORMED');
  t.is(codeOf({ ...manifest, files: [files[1]] }), 'BUNDLE_MALFORMED');
  t.is(codeOf({ ...manifest, files: [] }), 'BUNDLE_MALFORMED');
  t.is(codeOf(withFile(1, { name: 'LOADER.EFI' })), 'BUNDLE_MALFORMED');
});

test('names that are paths are BUNDLE_PATH_ESCAPES; other bad names BUNDLE_MALFORMED', (t) => {
  for (const name of ['../x', 'a/b', '/abs', '.', '..', 'a\\b', 'nul\0']) {
    t.is(codeOf(withFile(0, { name })), 'BUNDLE_PATH_ESCAPES', name);
  }
  for (const name of ['', '.hidden', '-x', 'a b', 'ä.efi', 'x'.repeat(256), 7]) {
    t.is(codeOf(withFile(0, { name })), 'BUNDLE_MALFORMED', String(name));
  }
  t.is(codeOf(withFile(0, { name: 'boot_x64-v2.efi' })), 'ok');
});

test('sizes are non-negative safe integers; sha256 is 64 lowercase hex', (t) => {
  for (const size of [-1, 1.5, 2 ** 53, '3', null]) {
    t.is(codeOf(withFile(0, { size })), 'BUNDLE_MALFORMED', String(size));
  }
  t.is(codeOf(withFile(0, { size: 0 })), 'ok');
  const huge = withFile(0, { size: Number.MAX_SAFE_INTEGER });
  const files = huge.files as Record<string, unknown>[];
  t.is(codeOf({ ...huge, files: [files[0], { ...files[1], size: 2 }] }), 'BUNDLE_MALFORMED');
  for (const sha256 of ['A'.repeat(64), 'a'.repeat(63), 'g'.repeat(64), 1]) {
    t.is(codeOf(withFile(0, { sha256 })), 'BUNDLE_MALFORMED', String(sha256));
  }
});

test('top-level fields are checked and unknown fields refused', (t) => {
  const manifest = manifestFor(key);
  t.is(codeOf({ ...manifest, extra: true }), 'BUNDLE_MALFORMED');
  t.is(codeOf(withFile(0, { mode: 0o755 })), 'BUNDLE_MALFORMED');
  t.is(codeOf({ ...manifest, formatVersion: '1' }), 'BUNDLE_MALFORMED');
  t.is(codeOf({ ...manifest, formatVersion: 2 }), 'BUNDLE_UNSUPPORTED_FORMAT');
  t.is(codeOf({ ...manifest, flavour: 'docker' }), 'BUNDLE_MALFORMED');
  t.is(codeOf({ ...manifest, architecture: 'riscv64' }), 'BUNDLE_MALFORMED');
  t.is(codeOf({ ...manifest, keyId: key.keyId.toUpperCase() }), 'BUNDLE_MALFORMED');
  for (const version of ['', '../v1', 'v 1', 'v1\n', 'x'.repeat(129)]) {
    t.is(codeOf({ ...manifest, version }), 'BUNDLE_MALFORMED', version);
  }
  for (const version of ['v0.2.0', '1.0.0-rc.1+build.5', 'dev']) {
    t.is(codeOf({ ...manifest, version }), 'ok', version);
  }
  for (const value of [null, [], 'text', 1]) t.is(codeOf(value), 'BUNDLE_MALFORMED');
});

test('securityEpoch is a signed non-negative integer; absent means 0 and 0 is written absent', (t) => {
  const manifest = manifestFor(key);
  t.is(parseBundleManifest(manifest).securityEpoch, 0);
  const withEpoch = { formatVersion: 1, version: manifest.version, securityEpoch: 7 };
  const parsed = parseBundleManifest({ ...manifest, securityEpoch: 7 });
  t.is(parsed.securityEpoch, 7);
  t.true(
    Buffer.from(encodeBundleManifest(parsed))
      .toString()
      .startsWith(JSON.stringify(withEpoch).slice(0, -1)),
  );
  t.false(
    Buffer.from(encodeBundleManifest({ ...parsed, securityEpoch: 0 }))
      .toString()
      .includes('securityEpoch'),
  );
  for (const securityEpoch of [-1, 1.5, 2 ** 53, '3', null]) {
    t.is(codeOf({ ...manifest, securityEpoch }), 'BUNDLE_MALFORMED', String(securityEpoch));
  }
});

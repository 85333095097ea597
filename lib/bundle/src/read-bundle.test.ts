// readBundle against valid, altered, truncated and hand-made bundles: every refusal is a typed
// BundleError, and no payload byte is accepted before the signed manifest.
import test from 'ava';
import fc from 'fast-check';
import {
  chunked,
  generateSigningKey,
  loader,
  makeBundle,
  manifestFor,
  memorySinks,
  sha256,
  system,
} from '../test/bundle-fixture.js';
import { BundleError, readBundle, type BundleErrorCode, type ReadBundleOptions } from './index.js';
import { encodeBundleHeader } from './bundle-header.js';
import { offThreadHashBytes } from './bundle-hasher.js';

const { key } = generateSigningKey();
const other = generateSigningKey().key;
const valid = makeBundle({ key });

async function read(
  bytes: Uint8Array,
  options: Partial<ReadBundleOptions> = {},
  sizes: readonly number[] = [],
) {
  const sinks = memorySinks();
  const manifest = await readBundle(chunked(bytes, sizes), {
    trustedKeys: [key.releaseKey],
    openPayload: sinks.open,
    ...options,
  });
  return { manifest, sinks };
}

async function rejects(
  t: { throwsAsync: (p: Promise<unknown>, e: object) => Promise<unknown> },
  bytes: Uint8Array,
  code: BundleErrorCode,
  options: Partial<ReadBundleOptions> = {},
): Promise<BundleError> {
  const error = await t.throwsAsync(read(bytes, options), { instanceOf: BundleError });
  if (!(error instanceof BundleError)) throw new Error('not a BundleError');
  if (error.code !== code) throw new Error(`expected ${code}, got ${error.code}: ${error.message}`);
  return error;
}

test('a valid bundle yields its manifest and each payload into its sink, in order', async (t) => {
  const sinks = memorySinks();
  const opened: string[] = [];
  const progress: number[] = [];
  const manifest = await readBundle(chunked(valid, [5, 100]), {
    trustedKeys: [other.releaseKey, key.releaseKey],
    openPayload: (file) => {
      opened.push(file.name);
      return sinks.open(file);
    },
    onProgress: ({ bytes, totalBytes }) => {
      t.is(totalBytes, valid.length);
      progress.push(bytes);
    },
  });
  t.is(manifest.version, 'v0.2.0');
  t.is(manifest.flavour, 'process');
  t.is(manifest.keyId, key.keyId);
  t.deepEqual(opened, ['loader.efi', 'system.img']);
  t.deepEqual(sinks.bytes('loader.efi'), Buffer.from(loader));
  t.deepEqual(sinks.bytes('system.img'), Buffer.from(system));
  t.true(sinks.received.get('loader.efi')?.closed);
  t.true(sinks.received.get('system.img')?.closed);
  t.deepEqual(
    progress,
    [...progress].sort((a, b) => a - b),
  );
  t.is(progress.at(-1), valid.length);
});

test('the result does not depend on how the source is chunked', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 40 }),
      async (sizes) => {
        const { manifest, sinks } = await read(valid, {}, sizes);
        return (
          manifest.files.length === 2 &&
          sha256(sinks.bytes('loader.efi')) === sha256(loader) &&
          sha256(sinks.bytes('system.img')) === sha256(system)
        );
      },
    ),
  );
  t.pass();
});

test('the manifest is verified and onManifest called before any payload byte is read', async (t) => {
  const header = valid.subarray(0, valid.length - loader.length - system.length);
  let payloadRequested = false;
  async function* source(): AsyncGenerator<Uint8Array> {
    yield header;
    await Promise.resolve();
    payloadRequested = true;
    throw new Error('connection reset');
  }
  let seen = false;
  const error = await t.throwsAsync(
    readBundle(source(), {
      trustedKeys: [key.releaseKey],
      openPayload: memorySinks().open,
      onManifest: () => {
        t.false(payloadRequested);
        seen = true;
      },
    }),
    { instanceOf: BundleError },
  );
  t.true(seen);
  t.is(error.code, 'BUNDLE_READ_FAILED');
  t.regex(error.message, /connection reset/);
});

test('payloads are streamed in bounded chunks, never buffered whole', async (t) => {
  const batch = 4 * 1024 * 1024;
  const big = new Uint8Array(3 * batch + 5).fill(7);
  const bytes = makeBundle({
    key,
    manifest: manifestFor(key, { loader, system: big }),
    payloads: [loader, big],
  });
  const { sinks } = await read(bytes);
  const chunks = sinks.received.get('system.img')?.chunks ?? [];
  t.true(chunks.length >= 4);
  t.true(chunks.every((chunk) => chunk.length <= batch));
  t.is(sha256(sinks.bytes('system.img')), sha256(big));
});

test('expectedSha256 of the whole bundle is checked, in any case', async (t) => {
  await t.notThrowsAsync(read(valid, { expectedSha256: sha256(valid) }));
  await t.notThrowsAsync(read(valid, { expectedSha256: sha256(valid).toUpperCase() }));
  const error = await rejects(t, valid, 'BUNDLE_HASH_MISMATCH', {
    expectedSha256: sha256(loader),
  });
  t.regex(error.message, /not the bundle that was published/);
  await rejects(t, valid, 'BUNDLE_INVALID_ARGUMENT', { expectedSha256: 'abc' });
});

test('BUNDLE_BAD_MAGIC: not a bundle', async (t) => {
  const error = await rejects(t, Buffer.from('<html>Not Found</html>'), 'BUNDLE_BAD_MAGIC');
  t.regex(error.message, /does not start with "MTRBNDL1"/);
});

test('BUNDLE_UNSUPPORTED_FORMAT: a bundle of a later format', async (t) => {
  const bytes = Buffer.from(valid);
  bytes.write('MTRBNDL2', 0, 'latin1');
  await rejects(t, bytes, 'BUNDLE_UNSUPPORTED_FORMAT');
  await rejects(
    t,
    makeBundle({ key, manifest: manifestFor(key, undefined, { formatVersion: 2 }) }),
    'BUNDLE_UNSUPPORTED_FORMAT',
  );
});

test('BUNDLE_MALFORMED: an oversized manifest length is refused before it is read', async (t) => {
  const header = Buffer.alloc(12);
  header.write('MTRBNDL1', 0, 'latin1');
  header.writeUInt32LE(1024 * 1024 + 1, 8);
  const error = await rejects(t, header, 'BUNDLE_MALFORMED');
  t.regex(error.message, /between 1 and 1048576/);
  header.writeUInt32LE(0, 8);
  await rejects(t, header, 'BUNDLE_MALFORMED');
});

test('BUNDLE_MALFORMED: manifest bytes that are not UTF-8 JSON', async (t) => {
  for (const text of ['{"formatVersion":1', 'null', '[]', '\uFEFF{}']) {
    await rejects(t, makeBundle({ key, manifestBytes: Buffer.from(text) }), 'BUNDLE_MALFORMED');
  }
  await rejects(
    t,
    makeBundle({ key, manifestBytes: Buffer.from([0x7b, 0xff, 0x7d]) }),
    'BUNDLE_MALFORMED',
  );
});

test('BUNDLE_MALFORMED: a signature that is not 64 bytes', async (t) => {
  await rejects(t, makeBundle({ key, signature: new Uint8Array(65) }), 'BUNDLE_MALFORMED');
});

test('BUNDLE_MALFORMED: a signed manifest with a wrong field', async (t) => {
  await rejects(
    t,
    makeBundle({ key, manifest: manifestFor(key, undefined, { flavour: 'docker' }) }),
    'BUNDLE_MALFORMED',
  );
});

test('BUNDLE_UNTRUSTED_KEY: signed by a key the node does not trust', async (t) => {
  const bytes = makeBundle({ key: other });
  const error = await rejects(t, bytes, 'BUNDLE_UNTRUSTED_KEY');
  t.is(
    error.message,
    `bundle is signed by release key ${other.keyId}, which is not trusted (trusted: ${key.keyId})`,
  );
  const none = await rejects(t, bytes, 'BUNDLE_UNTRUSTED_KEY', { trustedKeys: [] });
  t.regex(none.message, /no release keys are trusted/);
  await t.notThrowsAsync(read(bytes, { trustedKeys: [key.releaseKey, other.releaseKey] }));
});

test('BUNDLE_BAD_SIGNATURE: a manifest naming a trusted key but signed by another', async (t) => {
  const manifestBytes = Buffer.from(JSON.stringify(manifestFor(key)));
  const forged = makeBundle({ key: other, manifestBytes });
  const error = await rejects(t, forged, 'BUNDLE_BAD_SIGNATURE');
  t.regex(error.message, new RegExp(`does not verify with trusted release key ${key.keyId}`));
});

test('BUNDLE_PATH_ESCAPES: a signed manifest naming a path', async (t) => {
  for (const name of ['../x', 'a/b', '..', '.', 'a\\b']) {
    const manifest = manifestFor(key);
    const files = manifest.files as { name: string }[];
    files[0] = { ...files[0], name };
    await rejects(t, makeBundle({ key, manifest }), 'BUNDLE_PATH_ESCAPES');
  }
});

test('BUNDLE_TRUNCATED: the source ends inside a payload; the sink is closed', async (t) => {
  const sinks = memorySinks();
  const error = await t.throwsAsync(
    readBundle(chunked(valid.subarray(0, valid.length - 3)), {
      trustedKeys: [key.releaseKey],
      openPayload: sinks.open,
    }),
    { instanceOf: BundleError },
  );
  t.is(error.code, 'BUNDLE_TRUNCATED');
  t.regex(error.message, /3 bytes short of the end of payload "system.img"/);
  t.true(sinks.received.get('system.img')?.closed);
});

test('BUNDLE_TRAILING_DATA: bytes after the last payload', async (t) => {
  await rejects(t, Buffer.concat([valid, Buffer.from([0])]), 'BUNDLE_TRAILING_DATA');
});

test('BUNDLE_HASH_MISMATCH: an altered payload; the sink is closed first', async (t) => {
  const altered = Buffer.from(valid);
  const at = altered.length - system.length;
  altered[at] = (altered[at] ?? 0) ^ 0x20;
  const sinks = memorySinks();
  const error = await t.throwsAsync(
    readBundle(chunked(altered), { trustedKeys: [key.releaseKey], openPayload: sinks.open }),
    { instanceOf: BundleError },
  );
  t.is(error.code, 'BUNDLE_HASH_MISMATCH');
  t.regex(error.message, /payload "system.img" has sha256 [0-9a-f]{64}, but the signed/);
  t.true(sinks.received.get('system.img')?.closed);
});

test('BUNDLE_REFUSED: onManifest throws; no payload is opened', async (t) => {
  const reason = new Error('system image is larger than the slot');
  let opened = false;
  const error = await rejects(t, valid, 'BUNDLE_REFUSED', {
    onManifest: () => Promise.reject(reason),
    openPayload: () => {
      opened = true;
      return memorySinks().open({ name: 'x', role: 'loader', size: 0, sha256: '' });
    },
  });
  t.is(error.cause, reason);
  t.regex(error.message, /larger than the slot/);
  t.false(opened);
});

test('BUNDLE_WRITE_FAILED: a sink that fails; it is still closed', async (t) => {
  let closed = false;
  const error = await rejects(t, valid, 'BUNDLE_WRITE_FAILED', {
    openPayload: () =>
      Promise.resolve({
        write: () => Promise.reject(new Error('ENOSPC')),
        close: () => {
          closed = true;
          return Promise.resolve();
        },
      }),
  });
  t.regex(error.message, /writing payload "loader.efi" failed: ENOSPC/);
  t.true(closed);
});

test('a bundle large enough to be hashed on a worker thread gets the same verdicts', async (t) => {
  const image = new Uint8Array(offThreadHashBytes + 3).map((_, i) => (i * 31) % 251);
  const bytes = makeBundle({
    key,
    manifest: manifestFor(key, { loader, system: image }),
    payloads: [loader, image],
  });
  const { sinks } = await read(bytes, { expectedSha256: sha256(bytes) }, [70_000]);
  t.is(sha256(sinks.bytes('system.img')), sha256(image));

  await rejects(t, bytes, 'BUNDLE_HASH_MISMATCH', { expectedSha256: sha256(image) });
  await rejects(t, bytes.subarray(0, bytes.length - 1000), 'BUNDLE_TRUNCATED');
  const altered = Buffer.from(bytes);
  const middle = bytes.length - Math.floor(image.length / 2);
  altered[middle] = (altered[middle] ?? 0) ^ 1;
  const error = await rejects(t, altered, 'BUNDLE_HASH_MISMATCH');
  t.regex(error.message, /payload "system.img" has sha256/);

  // A failing write stops the writes after it, and the sink closes only once none is running.
  const events: string[] = [];
  await rejects(t, bytes, 'BUNDLE_WRITE_FAILED', {
    openPayload: (file) => {
      let writes = 0;
      return Promise.resolve({
        write: async () => {
          events.push(`${file.role} write`);
          await new Promise((resolve) => setImmediate(resolve));
          if (file.role === 'system' && ++writes === 2) throw new Error('EIO');
        },
        close: () => {
          events.push(`${file.role} close`);
          return Promise.resolve();
        },
      });
    },
  });
  t.deepEqual(events, [
    'loader write',
    'loader close',
    'system write',
    'system write',
    'system close',
  ]);
});

test('any single flipped byte anywhere yields a BundleError, never success', async (t) => {
  const small = makeBundle({
    key,
    manifest: manifestFor(key, { loader: loader.subarray(0, 4), system: system.subarray(0, 4) }),
    payloads: [loader.subarray(0, 4), system.subarray(0, 4)],
  });
  const flipped = async (offset: number, mask: number): Promise<boolean> => {
    const bytes = Buffer.from(small);
    bytes[offset] = (bytes[offset] ?? 0) ^ mask;
    try {
      await read(bytes);
      return false;
    } catch (error) {
      return error instanceof BundleError;
    }
  };
  for (let offset = 0; offset < small.length; offset++) {
    t.true(await flipped(offset, 0x01), `bit 0 of byte ${String(offset)}`);
    t.true(await flipped(offset, 0x80), `bit 7 of byte ${String(offset)}`);
  }
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: small.length - 1 }),
      fc.integer({ min: 1, max: 255 }),
      flipped,
    ),
    { numRuns: 500 },
  );
});

test('truncation at every offset yields BUNDLE_TRUNCATED', async (t) => {
  for (let length = 0; length < valid.length; length++) {
    const error = await t.throwsAsync(read(valid.subarray(0, length)), {
      instanceOf: BundleError,
    });
    t.is(error.code, 'BUNDLE_TRUNCATED', `truncated to ${String(length)} bytes`);
  }
});

test('the header layout is magic, u32 LE length, manifest, u16 LE length, signature', (t) => {
  const header = encodeBundleHeader(new Uint8Array([0x7b, 0x7d]), new Uint8Array([1, 2, 3]));
  t.deepEqual([...header], [...Buffer.from('MTRBNDL1'), 2, 0, 0, 0, 0x7b, 0x7d, 3, 0, 1, 2, 3]);
});

// Streaming bundle verification: the signed manifest is checked before any payload byte is
// accepted, then each payload is hashed on its way into the caller's sink, never held whole.
// Payloads move in large batches through a few reused buffers, so the download, the sink's
// writes and the hashing (on a worker thread) all run at once, each on a different batch.
import { verify } from 'node:crypto';
import { errorMessage } from '@metropolis/errors';
import {
  bundleMagic,
  bundleMagicFamily,
  headerFieldLengths,
  maxManifestLength,
  signatureLength,
  signedMessage,
} from './bundle-header.js';
import {
  decodeBundleManifestJson,
  parseBundleManifest,
  type BundleFile,
  type BundleManifest,
} from './bundle-manifest.js';
import { startBundleHasher, type BundleHasher } from './bundle-hasher.js';
import { ByteReader } from './byte-reader.js';
import { BundleError } from './errors.js';
import type { ReleaseKey } from './release-key.js';

/** Where one payload goes (a slot device, a file on the ESP, a temp file). */
export interface PayloadSink {
  /**
   * Called with consecutive pieces of the payload (up to a few MiB each); the next call waits for
   * this promise. The chunk is a view into a buffer that is reused once the promise resolves: copy
   * it to keep it longer.
   */
  write(chunk: Uint8Array): Promise<void>;
  /** Called exactly once per opened sink, also when the bundle is refused mid-payload. */
  close(): Promise<void>;
}

export interface ReadBundleOptions {
  /** Release keys this node trusts; the manifest's keyId picks the one that must verify it. */
  readonly trustedKeys: readonly ReleaseKey[];
  /** Called once the signature verified, before any payload: throw to refuse (e.g. wrong flavour, too big for the slot). */
  readonly onManifest?: (manifest: BundleManifest) => void | Promise<void>;
  /** Where each payload goes; called in manifest order. */
  readonly openPayload: (file: BundleFile) => Promise<PayloadSink>;
  /** Called after the header and after every payload batch; `totalBytes` is the bundle's size. */
  readonly onProgress?: (progress: { readonly bytes: number; readonly totalBytes: number }) => void;
  /** sha256 (hex) of the whole bundle file, when the caller knows it (e.g. from an OSUpdate spec). */
  readonly expectedSha256?: string;
}

/** Payload batches are at most this long, whatever the source's chunking. */
const batchBytes = 4 << 20;
/** Batches in flight: one filling from the source, the others being written and hashed. */
const batchCount = 3;

/**
 * Reads and verifies a bundle from `source`, streaming its payloads into sinks. A chunk of
 * `source` is done with (copied or passed on) before the next is asked for, so a source may
 * reuse one buffer for all of them. Resolves with
 * the manifest only when every check passed: signature, each payload's size and sha256, no
 * trailing bytes, and `expectedSha256`. On rejection the sinks hold partial or unverified data
 * that the caller must discard.
 * @throws BundleError, and nothing else; errors of the source, sinks and callbacks are its `cause`.
 */
export async function readBundle(
  source: AsyncIterable<Uint8Array>,
  options: ReadBundleOptions,
): Promise<BundleManifest> {
  const expectedSha256 = normalizeSha256(options.expectedSha256);
  const reader = new ByteReader(source);
  let hasher: BundleHasher | undefined;
  try {
    const { manifest, header } = await readHeader(reader, options.trustedKeys);
    await callback('onManifest', () => options.onManifest?.(manifest));
    const totalBytes = manifest.files.reduce((sum, file) => sum + file.size, header.length);
    hasher = startBundleHasher(totalBytes);
    const progress = (bytes: number): void => {
      callbackSync('onProgress', () => options.onProgress?.({ bytes, totalBytes }));
    };
    progress(reader.offset);
    // Each batch owns its ArrayBuffer: the hash worker borrows it by transfer, never copied.
    const batchLength = Math.min(batchBytes, Math.max(1, ...manifest.files.map((f) => f.size)));
    const batches = Array.from({ length: batchCount }, () => ({
      bytes: new Uint8Array(batchLength),
      done: Promise.resolve(),
    }));
    // A copy of its own, since Buffer.concat may have cut it from a shared pool.
    const hashedHeader = hasher.update(new Uint8Array(header), false);
    // Awaited at the end; a failure before that must not count as unhandled.
    hashedHeader.catch(() => undefined);
    for (const file of manifest.files) {
      await readPayload(reader, file, {
        openPayload: options.openPayload,
        hasher,
        batches,
        progress,
      });
    }
    await reader.expectEnd();
    await hashedHeader;
    const actual = await hasher.wholeDigest();
    if (expectedSha256 !== undefined && actual !== expectedSha256) {
      throw new BundleError(
        'BUNDLE_HASH_MISMATCH',
        `bundle sha256 is ${actual}, expected ${expectedSha256}: the download is not the bundle that was published`,
      );
    }
    return manifest;
  } finally {
    await reader.cancel();
    await hasher?.close();
  }
}

/** The verified manifest, and the header's bytes (for the whole-bundle hash). */
async function readHeader(
  reader: ByteReader,
  trustedKeys: readonly ReleaseKey[],
): Promise<{ manifest: BundleManifest; header: Uint8Array }> {
  const magic = await readMagic(reader);
  const lengthField = await reader.readExactly(
    headerFieldLengths.manifestLength,
    'the manifest length',
  );
  const manifestLength = littleEndian(lengthField);
  if (manifestLength === 0 || manifestLength > maxManifestLength) {
    throw new BundleError(
      'BUNDLE_MALFORMED',
      `bundle manifest length is ${String(manifestLength)} bytes; it must be between 1 and ${String(maxManifestLength)}`,
    );
  }
  const manifestBytes = await reader.readExactly(manifestLength, 'the manifest');
  const signatureField = await reader.readExactly(
    headerFieldLengths.signatureLength,
    'the signature length',
  );
  const signatureBytes = littleEndian(signatureField);
  if (signatureBytes !== signatureLength) {
    throw new BundleError(
      'BUNDLE_MALFORMED',
      `bundle signature length is ${String(signatureBytes)} bytes; an Ed25519 signature is ${String(signatureLength)}`,
    );
  }
  const signature = await reader.readExactly(signatureBytes, 'the signature');
  const manifest = verifyManifest(manifestBytes, signature, trustedKeys);
  const header = Buffer.concat([magic, lengthField, manifestBytes, signatureField, signature]);
  return { manifest, header };
}

async function readMagic(reader: ByteReader): Promise<Uint8Array> {
  const magic = await reader.readUpTo(headerFieldLengths.magic);
  const text = new TextDecoder('latin1').decode(magic);
  if (!bundleMagic.startsWith(text)) {
    if (text.length === bundleMagic.length && text.startsWith(bundleMagicFamily)) {
      throw new BundleError(
        'BUNDLE_UNSUPPORTED_FORMAT',
        `bundle has format magic ${JSON.stringify(text)}; this reader understands only ${JSON.stringify(bundleMagic)}`,
      );
    }
    throw new BundleError(
      'BUNDLE_BAD_MAGIC',
      `not a Metropolis bundle: it does not start with ${JSON.stringify(bundleMagic)}`,
    );
  }
  if (magic.length < headerFieldLengths.magic) {
    throw reader.truncated('the magic', headerFieldLengths.magic - magic.length, 0);
  }
  return magic;
}

/** Checks the signature with the trusted key the manifest names, then the manifest itself. */
function verifyManifest(
  manifestBytes: Uint8Array,
  signature: Uint8Array,
  trustedKeys: readonly ReleaseKey[],
): BundleManifest {
  // The keyId is read before the signature is checked; it only selects which key must verify.
  const untrusted = decodeBundleManifestJson(manifestBytes);
  const keyId =
    typeof untrusted === 'object' && untrusted !== null && 'keyId' in untrusted
      ? untrusted.keyId
      : undefined;
  if (typeof keyId !== 'string' || !/^[0-9a-f]{16}$/.test(keyId)) {
    throw new BundleError(
      'BUNDLE_MALFORMED',
      'bundle manifest: field "keyId" must be 16 lowercase hex digits',
    );
  }
  const key = trustedKeys.find((candidate) => candidate.keyId === keyId);
  if (key === undefined) {
    const trusted =
      trustedKeys.length === 0
        ? 'no release keys are trusted'
        : `trusted: ${trustedKeys.map((candidate) => candidate.keyId).join(', ')}`;
    throw new BundleError(
      'BUNDLE_UNTRUSTED_KEY',
      `bundle is signed by release key ${keyId}, which is not trusted (${trusted})`,
    );
  }
  if (!verify(null, signedMessage(manifestBytes), key.publicKey, signature)) {
    throw new BundleError(
      'BUNDLE_BAD_SIGNATURE',
      `bundle signature does not verify with trusted release key ${keyId}: the manifest or its signature was altered`,
    );
  }
  return parseBundleManifest(untrusted);
}

interface Batch {
  /** Replaced by the array the hasher hands back: the old one is detached. */
  bytes: Uint8Array;
  done: Promise<void>;
}

interface PayloadContext {
  readonly openPayload: ReadBundleOptions['openPayload'];
  readonly hasher: BundleHasher;
  /** Used in turn; a batch is refilled only once it is written and hashed (`done`). */
  readonly batches: readonly Batch[];
  readonly progress: (bytes: number) => void;
}

/**
 * Streams one payload into its sink in batches: while one batch fills from the source, the ones
 * before it are written (in order), then hashed.
 */
async function readPayload(
  reader: ByteReader,
  file: BundleFile,
  { openPayload, hasher, batches, progress }: PayloadContext,
): Promise<void> {
  const what = `payload ${JSON.stringify(file.name)}`;
  let sink: PayloadSink;
  try {
    sink = await openPayload(file);
  } catch (cause) {
    throw writeFailed(`opening ${what}`, cause);
  }
  // A failed write or hash is kept here and thrown by the loop, never left unhandled.
  let failure: { error: unknown } | undefined;
  let written = Promise.resolve();
  try {
    const start = reader.offset;
    let remaining = file.size;
    while (remaining > 0) {
      for (const batch of batches) {
        if (remaining === 0) break;
        await batch.done;
        if (failure !== undefined) throw failure.error;
        const length = Math.min(remaining, batch.bytes.length);
        for (let filled = 0; filled < length;) {
          const chunk = await reader.read(length - filled);
          if (chunk === undefined) throw reader.truncated(what, remaining - filled, start);
          batch.bytes.set(chunk, filled);
          filled += chunk.length;
        }
        remaining -= length;
        const bytes = batch.bytes.subarray(0, length);
        const end = reader.offset;
        written = written.then(() =>
          sink.write(bytes).catch((cause: unknown) => {
            throw writeFailed(`writing ${what}`, cause);
          }),
        );
        // Hashed once written: the worker takes the buffer away until it is done.
        batch.done = written
          .then(() => hasher.update(bytes, true))
          .then((returned) => {
            batch.bytes = new Uint8Array(returned.buffer);
            progress(end);
          })
          .catch((error: unknown) => {
            failure ??= { error };
          });
      }
    }
    await Promise.all(batches.map((batch) => batch.done));
    if (failure !== undefined) throw failure.error;
  } catch (error) {
    // Nothing may still be writing when the sink closes.
    await Promise.all(batches.map((batch) => batch.done));
    // The bundle is refused already; a failing close must not hide why.
    await Promise.resolve()
      .then(() => sink.close())
      .catch(() => undefined);
    throw error;
  }
  try {
    await sink.close();
  } catch (cause) {
    throw writeFailed(`closing ${what}`, cause);
  }
  const actual = await hasher.payloadDigest();
  if (actual !== file.sha256) {
    throw new BundleError(
      'BUNDLE_HASH_MISMATCH',
      `bundle ${what} has sha256 ${actual}, but the signed manifest says ${file.sha256}`,
    );
  }
}

async function callback(name: string, call: () => void | Promise<void>): Promise<void> {
  try {
    await call();
  } catch (cause) {
    throw new BundleError('BUNDLE_REFUSED', `bundle refused by ${name}: ${errorMessage(cause)}`, {
      cause,
    });
  }
}

function callbackSync(name: string, call: () => void): void {
  try {
    call();
  } catch (cause) {
    throw new BundleError('BUNDLE_REFUSED', `bundle refused by ${name}: ${errorMessage(cause)}`, {
      cause,
    });
  }
}

function writeFailed(what: string, cause: unknown): BundleError {
  return new BundleError('BUNDLE_WRITE_FAILED', `${what} failed: ${errorMessage(cause)}`, {
    cause,
  });
}

function normalizeSha256(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const lower = value.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(lower)) {
    throw new BundleError(
      'BUNDLE_INVALID_ARGUMENT',
      `expectedSha256 ${JSON.stringify(value)} is not 64 hex digits`,
    );
  }
  return lower;
}

function littleEndian(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return bytes.length === 2 ? view.getUint16(0, true) : view.getUint32(0, true);
}

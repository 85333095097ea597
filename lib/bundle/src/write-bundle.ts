// Writes a signed bundle from files on disk. The output is a pure function of the inputs and
// the key (Ed25519 signatures are deterministic, the manifest has no timestamps).
import { createHash, randomBytes, sign } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { errorMessage } from '@metropolis/errors';
import { encodeBundleHeader, signedMessage } from './bundle-header.js';
import {
  encodeBundleManifest,
  parseBundleManifest,
  type BundleArchitecture,
  type BundleFile,
  type BundleFlavour,
  type BundleManifest,
  type BundleRole,
} from './bundle-manifest.js';
import { BundleError } from './errors.js';
import { signingKeyFromPem } from './release-key.js';

/** A payload to put into a bundle: its name and role in the manifest, its bytes on disk. */
export interface BundleInput {
  readonly name: string;
  readonly role: BundleRole;
  readonly path: string;
}

export interface WriteBundleOptions {
  readonly version: string;
  /** The release's security epoch (docs/bundle-format.md). @default 0 */
  readonly securityEpoch?: number;
  readonly flavour: BundleFlavour;
  readonly architecture: BundleArchitecture;
  /** Payloads in stream order: exactly one `loader` and one `system`. */
  readonly files: readonly BundleInput[];
  /** The release key: Ed25519, PKCS#8 PEM. */
  readonly signingKeyPem: string;
}

export interface WrittenBundle {
  readonly manifest: BundleManifest;
  /** sha256 (hex) of the whole bundle file: what an OSUpdate spec pins. */
  readonly sha256: string;
  /** Size of the bundle file in bytes. */
  readonly size: number;
}

/**
 * Writes a bundle to `outPath`, through a temporary file in the same directory and a rename, so
 * `outPath` never holds a partial bundle. Every input is read twice (hash, then copy); an input
 * that changes in between fails the write rather than producing a bundle that does not verify.
 * @throws BundleError: BUNDLE_INVALID_KEY, BUNDLE_MALFORMED / BUNDLE_PATH_ESCAPES (a manifest the
 * reader would refuse), BUNDLE_READ_FAILED, BUNDLE_WRITE_FAILED, BUNDLE_SIZE_MISMATCH,
 * BUNDLE_HASH_MISMATCH.
 */
export async function writeBundle(
  outPath: string,
  options: WriteBundleOptions,
): Promise<WrittenBundle> {
  const key = signingKeyFromPem(options.signingKeyPem);
  const planned: { input: BundleInput; file: BundleFile }[] = [];
  for (const input of options.files) {
    const { size, sha256 } = await hashInput(input, undefined);
    planned.push({ input, file: { name: input.name, role: input.role, size, sha256 } });
  }
  // Round-trip through the reader's validation: never write a bundle the reader refuses.
  const manifest = parseBundleManifest({
    formatVersion: 1,
    version: options.version,
    securityEpoch: options.securityEpoch ?? 0,
    flavour: options.flavour,
    architecture: options.architecture,
    keyId: key.keyId,
    files: planned.map(({ file }) => file),
  });
  const manifestBytes = encodeBundleManifest(manifest);
  const signature = sign(null, signedMessage(manifestBytes), key.privateKey);
  const header = encodeBundleHeader(manifestBytes, signature);

  const tempPath = join(
    dirname(outPath),
    `.${basename(outPath)}.${randomBytes(6).toString('hex')}.tmp`,
  );
  const whole = createHash('sha256');
  let size = 0;
  let handle: FileHandle | undefined;
  try {
    handle = await output(() => open(tempPath, 'wx', 0o644), tempPath);
    const out = handle;
    const append = async (chunk: Uint8Array): Promise<void> => {
      whole.update(chunk);
      size += chunk.length;
      await output(() => out.write(chunk), tempPath);
    };
    await append(header);
    for (const { input, file: expected } of planned) {
      const copied = await hashInput(input, append);
      if (copied.size !== expected.size) {
        throw new BundleError(
          'BUNDLE_SIZE_MISMATCH',
          `input ${input.path} changed size while the bundle was written (${String(expected.size)} -> ${String(copied.size)} bytes)`,
        );
      }
      if (copied.sha256 !== expected.sha256) {
        throw new BundleError(
          'BUNDLE_HASH_MISMATCH',
          `input ${input.path} changed while the bundle was written`,
        );
      }
    }
    await output(() => out.sync(), tempPath);
    await output(() => out.close(), tempPath);
    handle = undefined;
    await output(() => rename(tempPath, outPath), outPath);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await rm(tempPath, { force: true });
    throw error;
  }
  return { manifest, sha256: whole.digest('hex'), size };
}

/** Streams an input file, hashing it and passing each chunk to `each` when given. */
async function hashInput(
  input: BundleInput,
  each: ((chunk: Uint8Array) => Promise<void>) | undefined,
): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of createReadStream(input.path, { highWaterMark: 1024 * 1024 })) {
      if (!(chunk instanceof Uint8Array)) throw new Error('read stream yielded text');
      hash.update(chunk);
      size += chunk.length;
      // Writes go to the output; their errors are already BundleErrors.
      await each?.(chunk);
    }
  } catch (cause) {
    if (cause instanceof BundleError) throw cause;
    throw new BundleError(
      'BUNDLE_READ_FAILED',
      `reading bundle input ${JSON.stringify(input.name)} from ${input.path} failed: ${errorMessage(cause)}`,
      { cause },
    );
  }
  return { size, sha256: hash.digest('hex') };
}

async function output<T>(call: () => Promise<T>, path: string): Promise<T> {
  try {
    return await call();
  } catch (cause) {
    throw new BundleError(
      'BUNDLE_WRITE_FAILED',
      `writing bundle ${path} failed: ${errorMessage(cause)}`,
      { cause },
    );
  }
}

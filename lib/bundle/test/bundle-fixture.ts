// In-memory bundles for tests: valid ones from payload bytes, and hand-made ones (any manifest
// JSON, any signature) that writeBundle refuses to produce.
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { encodeBundleHeader, signedMessage } from '../src/bundle-header.js';
import type { BundleFile, PayloadSink } from '../src/index.js';
import { signingKeyFromPem, type SigningKey } from '../src/release-key.js';

/** A fresh Ed25519 release key. */
export function generateSigningKey(): { key: SigningKey; privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return { key: signingKeyFromPem(privatePem), privatePem, publicPem };
}

export const sha256 = (bytes: Uint8Array): string =>
  createHash('sha256').update(bytes).digest('hex');

export const loader = new TextEncoder().encode('{"kind":"metropolis-process-loader"}');
export const system = new TextEncoder().encode('system image bytes: '.repeat(5));

/** A manifest (as plain JSON) for the loader and system payloads, with optional overrides. */
export function manifestFor(
  key: SigningKey,
  payloads: { loader: Uint8Array; system: Uint8Array } = { loader, system },
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    formatVersion: 1,
    version: 'v0.2.0',
    flavour: 'process',
    architecture: 'x86_64',
    keyId: key.keyId,
    files: [
      {
        name: 'loader.efi',
        role: 'loader',
        size: payloads.loader.length,
        sha256: sha256(payloads.loader),
      },
      {
        name: 'system.img',
        role: 'system',
        size: payloads.system.length,
        sha256: sha256(payloads.system),
      },
    ],
    ...overrides,
  };
}

/** Header (signed by `key` unless `signature` is given) followed by the payloads. */
export function makeBundle(options: {
  readonly key: SigningKey;
  readonly manifest?: unknown;
  readonly manifestBytes?: Uint8Array;
  readonly signature?: Uint8Array;
  readonly payloads?: readonly Uint8Array[];
}): Uint8Array {
  const manifestBytes =
    options.manifestBytes ??
    new TextEncoder().encode(JSON.stringify(options.manifest ?? manifestFor(options.key)));
  const signature =
    options.signature ?? sign(null, signedMessage(manifestBytes), options.key.privateKey);
  return Buffer.concat([
    encodeBundleHeader(manifestBytes, signature),
    ...(options.payloads ?? [loader, system]),
  ]);
}

/** The bytes as an async source, cut into chunks of the given sizes (the rest in one). */
export async function* chunked(
  bytes: Uint8Array,
  sizes: readonly number[] = [],
): AsyncGenerator<Uint8Array> {
  let offset = 0;
  for (const size of sizes) {
    if (offset >= bytes.length) break;
    yield bytes.slice(offset, offset + size);
    offset += size;
  }
  if (offset < bytes.length) yield bytes.slice(offset);
  await Promise.resolve();
}

/** Sinks that keep what they receive, and record whether each was closed. */
export function memorySinks(): {
  readonly open: (file: BundleFile) => Promise<PayloadSink>;
  readonly received: Map<string, { chunks: Uint8Array[]; closed: boolean }>;
  readonly bytes: (name: string) => Uint8Array;
} {
  const received = new Map<string, { chunks: Uint8Array[]; closed: boolean }>();
  return {
    received,
    open: (file) => {
      const entry = { chunks: [] as Uint8Array[], closed: false };
      received.set(file.name, entry);
      return Promise.resolve({
        write: (chunk) => {
          entry.chunks.push(chunk.slice());
          return Promise.resolve();
        },
        close: () => {
          entry.closed = true;
          return Promise.resolve();
        },
      });
    },
    bytes: (name) => Buffer.concat(received.get(name)?.chunks ?? []),
  };
}

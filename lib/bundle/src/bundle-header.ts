// The fixed part of a bundle before its payloads: magic, manifest, signature (layout in
// docs/bundle-format.md). Shared by the reader and the writer so both agree byte for byte.

/** The first 8 bytes of every format-1 bundle. */
export const bundleMagic = 'MTRBNDL1';
/** Bundles of other format versions share this 7-byte prefix: "MTRBNDL2" is a newer bundle. */
export const bundleMagicFamily = 'MTRBNDL';
/** Manifests are small; a larger length field means garbage, refused before reading it. */
export const maxManifestLength = 1024 * 1024;
/** Format 1 signs with Ed25519, whose signatures are always 64 bytes. */
export const signatureLength = 64;
/** Prepended to the manifest before signing, so a release key's signature over a bundle can never be replayed as a signature over anything else. */
export const signatureDomain = 'metropolis-bundle-v1\0';

const magicLength = 8;
const manifestLengthField = 4;
const signatureLengthField = 2;

/** The message the release key signs: the domain string, then the manifest bytes. */
export function signedMessage(manifestBytes: Uint8Array): Uint8Array {
  const domain = new TextEncoder().encode(signatureDomain);
  const message = new Uint8Array(domain.length + manifestBytes.length);
  message.set(domain, 0);
  message.set(manifestBytes, domain.length);
  return message;
}

/** Bytes before the first payload, for manifest and signature of the given lengths. */
export function bundleHeaderLength(manifestLength: number, signatureBytes: number): number {
  return magicLength + manifestLengthField + manifestLength + signatureLengthField + signatureBytes;
}

/** magic, u32 LE manifest length, manifest, u16 LE signature length, signature. */
export function encodeBundleHeader(manifestBytes: Uint8Array, signature: Uint8Array): Uint8Array {
  const header = new Uint8Array(bundleHeaderLength(manifestBytes.length, signature.length));
  const view = new DataView(header.buffer);
  let offset = 0;
  header.set(new TextEncoder().encode(bundleMagic), offset);
  offset += magicLength;
  view.setUint32(offset, manifestBytes.length, true);
  offset += manifestLengthField;
  header.set(manifestBytes, offset);
  offset += manifestBytes.length;
  view.setUint16(offset, signature.length, true);
  offset += signatureLengthField;
  header.set(signature, offset);
  return header;
}

/** Sizes of the header fields, for the reader. */
export const headerFieldLengths = {
  magic: magicLength,
  manifestLength: manifestLengthField,
  signatureLength: signatureLengthField,
} as const;

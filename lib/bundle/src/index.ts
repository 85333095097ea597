// The signed update-bundle format: manifest, ed25519 signature, streaming verification.
// The byte layout and the error codes are specified in docs/bundle-format.md.
export {
  bundleVersionPattern,
  isEpoch,
  parseBundleManifest,
  type BundleArchitecture,
  type BundleFile,
  type BundleFlavour,
  type BundleManifest,
  type BundleRole,
} from './bundle-manifest.js';
export { bundleMagic, maxManifestLength, signatureDomain } from './bundle-header.js';
export { BundleError, type BundleErrorCode } from './errors.js';
export { readBundle, type PayloadSink, type ReadBundleOptions } from './read-bundle.js';
export {
  developmentReleaseKeyId,
  keyIdOf,
  releaseKeyFromPem,
  signingKeyFromPem,
  type ReleaseKey,
  type SigningKey,
} from './release-key.js';
export {
  writeBundle,
  type BundleInput,
  type WriteBundleOptions,
  type WrittenBundle,
} from './write-bundle.js';
export { BundleHttpServer, type ServedBundle } from './bundle-http-server.js';
export {
  encodeReleaseInfo,
  parseReleaseInfo,
  type ReleaseHealthCheck,
  type ReleaseInfo,
} from './release-info.js';

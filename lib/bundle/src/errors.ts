// Typed errors of @metropolis/bundle. The codes are a stable contract (docs/bundle-format.md):
// the node agent maps them to update failures, so never rename one.
import { CodedError } from '@metropolis/errors';

export type BundleErrorCode =
  /** The file does not start with "MTRBNDL1": not a bundle at all. */
  | 'BUNDLE_BAD_MAGIC'
  /** A bundle of another format version ("MTRBNDL2", or manifest formatVersion other than 1). */
  | 'BUNDLE_UNSUPPORTED_FORMAT'
  /** The header or manifest breaks the format: lengths, JSON, fields, values. */
  | 'BUNDLE_MALFORMED'
  /** The manifest names a release key that is not among the trusted ones. */
  | 'BUNDLE_UNTRUSTED_KEY'
  /** The signature does not verify with the trusted key the manifest names. */
  | 'BUNDLE_BAD_SIGNATURE'
  /** A payload name is a path (`a/b`, `../x`, `..`) rather than a plain file name. */
  | 'BUNDLE_PATH_ESCAPES'
  /** The source ended before the bundle did. */
  | 'BUNDLE_TRUNCATED'
  /** Bytes follow the last payload. */
  | 'BUNDLE_TRAILING_DATA'
  /** A payload, or the whole bundle, does not hash to the expected sha256. */
  | 'BUNDLE_HASH_MISMATCH'
  /** An input file changed size while a bundle was being written. */
  | 'BUNDLE_SIZE_MISMATCH'
  /** The caller's onManifest or onProgress refused the bundle. */
  | 'BUNDLE_REFUSED'
  /** A PEM key is unreadable or not of the expected kind (Ed25519 public / private). */
  | 'BUNDLE_INVALID_KEY'
  /** An argument is invalid (e.g. expectedSha256 is not 64 hex digits). */
  | 'BUNDLE_INVALID_ARGUMENT'
  /** Reading failed: the bundle source threw, or an input file could not be read. */
  | 'BUNDLE_READ_FAILED'
  /** Writing failed: a payload sink threw, or the output file could not be written. */
  | 'BUNDLE_WRITE_FAILED';

/** Every error @metropolis/bundle throws; `readBundle` and `writeBundle` throw nothing else. */
export class BundleError extends CodedError<BundleErrorCode> {}

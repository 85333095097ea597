// Typed errors of @metropolis/os-image. Bundle-format problems stay BundleErrors from
// @metropolis/bundle; these cover the build steps before the bundle is written.
import { CodedError } from '@metropolis/errors';

export type OsImageErrorCode =
  /** An option is invalid: version, cmdline, flavour not built yet. */
  | 'OS_IMAGE_INVALID_OPTION'
  /** esbuild could not bundle the node agent. */
  | 'OS_IMAGE_AGENT_BUILD_FAILED'
  /** The system image (tar) could not be written. */
  | 'OS_IMAGE_SYSTEM_IMAGE_FAILED';

export class OsImageError extends CodedError<OsImageErrorCode> {}

// Builds what a node boots: signed update bundles (process flavour today; vm later).
// Tests and hack/ scripts call buildProcessBundle; the CLI in main.ts wraps the same function.
export {
  buildProcessBundle,
  type BuildProcessBundleOptions,
  type BuiltBundle,
} from './build-process-bundle.js';
export { OsImageError, type OsImageErrorCode } from './errors.js';
export { encodeReleaseInfo, type ReleaseHealthCheck, type ReleaseInfo } from '@metropolis/bundle';
export { workspacePaths, type WorkspacePaths } from './workspace-paths.js';

// release.json, the system image's description of itself: the node agent reads its version
// (and test-only behaviour) from this file beside its own script.
import type { BundleArchitecture, BundleFlavour } from '@metropolis/bundle';

/**
 * `fail` builds an agent that starts but never reports healthy: a deliberately broken release
 * for rollback tests. The agent interprets it; the builder only carries it.
 */
export type HealthCheck = 'ok' | 'fail';

export interface ReleaseInfo {
  readonly version: string;
  readonly flavour: BundleFlavour;
  readonly architecture: BundleArchitecture;
  readonly healthCheck: HealthCheck;
}

/** release.json: UTF-8 JSON, fields in this order, no trailing newline. */
export function encodeReleaseInfo(info: ReleaseInfo): Uint8Array {
  const { version, flavour, architecture, healthCheck } = info;
  return new TextEncoder().encode(JSON.stringify({ version, flavour, architecture, healthCheck }));
}

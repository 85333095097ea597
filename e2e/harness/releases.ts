// Releases for a launched cluster: process-flavour bundles signed with the dev release key, as
// os-image builds them — a version to install, versions to update to, and a broken one.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildProcessBundle, workspacePaths, type HealthCheck } from '@metropolis/os-image';

export interface BundleOptions {
  /** `fail`: the agent starts but never reports healthy (greenboot's failing health check). */
  readonly healthCheck?: HealthCheck;
  /** Sign with this key instead of the dev release key (a key the nodes do not trust). */
  readonly signingKeyPem?: string;
}

/** Builds `<dir>/<version>.bundle` and returns its path. */
export async function buildBundle(
  dir: string,
  version: string,
  options: BundleOptions = {},
): Promise<string> {
  const out = join(dir, `${version}${options.healthCheck === 'fail' ? '-broken' : ''}.bundle`);
  await buildProcessBundle({
    version,
    signingKeyPem:
      options.signingKeyPem ??
      (await readFile(workspacePaths().devReleaseKey.privateKeyPem, 'utf8')),
    out,
    ...(options.healthCheck === undefined ? {} : { healthCheck: options.healthCheck }),
  });
  return out;
}

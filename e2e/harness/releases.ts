// Releases for a launched cluster: process-flavour bundles signed with the dev release key, as
// os-image builds them — a version to install, versions to update to, and a broken one.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildProcessBundle, workspacePaths, type ReleaseHealthCheck } from '@metropolis/os-image';

export interface BundleOptions {
  /** `fail`: the agent starts but never reports healthy (greenboot's failing health check). */
  readonly healthCheck?: ReleaseHealthCheck;
  /** Flags the release adds to kube-apiserver (a bad one: an API server that cannot start). */
  readonly kubeApiserverArgs?: readonly string[];
  /** The bundle file's name, without `.bundle`. @default the version (`-broken` for `fail`) */
  readonly fileName?: string;
  /** Sign with this key instead of the dev release key (a key the nodes do not trust). */
  readonly signingKeyPem?: string;
}

/** Builds `<dir>/<version>.bundle` and returns its path. */
export async function buildBundle(
  dir: string,
  version: string,
  options: BundleOptions = {},
): Promise<string> {
  const name = options.fileName ?? `${version}${options.healthCheck === 'fail' ? '-broken' : ''}`;
  const out = join(dir, `${name}.bundle`);
  await buildProcessBundle({
    version,
    signingKeyPem:
      options.signingKeyPem ??
      (await readFile(workspacePaths().devReleaseKey.privateKeyPem, 'utf8')),
    out,
    ...(options.healthCheck === undefined ? {} : { healthCheck: options.healthCheck }),
    ...(options.kubeApiserverArgs === undefined
      ? {}
      : { kubeApiserverArgs: options.kubeApiserverArgs }),
  });
  return out;
}

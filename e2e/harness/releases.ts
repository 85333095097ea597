// Releases for a launched cluster: process-flavour bundles signed with the dev release key, as
// os-image builds them — a version to install, versions to update to, and a broken one.
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readBundle, releaseKeyFromPem } from '@metropolis/bundle';
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
  /**
   * A release for hollow nodes: a system image of a few KiB (release.json and a stub in place of
   * the agent, no operator, no CRDs), since a hollow node runs the fleet's agent and only reads
   * release.json from its slot. The stager verifies and writes it like any other.
   */
  readonly hollow?: boolean;
}

/** The stub standing in for the agent in a hollow release's system image. */
const hollowAgentEntry = fileURLToPath(new URL('./fixtures/hollow-agent.ts', import.meta.url));

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
    ...(options.hollow === true
      ? { agentEntry: hollowAgentEntry, operatorEntry: null, crds: await emptyDir(dir) }
      : {}),
  });
  return out;
}

async function emptyDir(dir: string): Promise<string> {
  const path = join(dir, 'no-crds');
  await mkdir(path, { recursive: true });
  return path;
}

/**
 * What an installer takes from a bundle: its system image and loader, written to `files` once
 * the bundle verified against the dev release key.
 */
export async function extractRelease(
  bundle: string,
  files: { readonly systemImage: string; readonly loader: string },
): Promise<void> {
  await readBundle(createReadStream(bundle), {
    trustedKeys: [
      releaseKeyFromPem(await readFile(workspacePaths().devReleaseKey.publicKeyPem, 'utf8')),
    ],
    openPayload: async (file) => {
      const handle = await open(file.role === 'system' ? files.systemImage : files.loader, 'w');
      return {
        write: async (chunk: Uint8Array) => {
          await handle.write(chunk);
        },
        close: () => handle.close(),
      };
    },
  });
}

// The installer's part of installing a fresh test node: a bundle's payloads, verified against a
// release key, written one file per role (system, loader) into a directory.
import { createReadStream } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { readBundle, releaseKeyFromPem } from '@metropolis/bundle';

/** Extracts `bundle` into `dir` as `dir/<role>` after checking its signature with `publicKeyPem`. */
export async function extractPayloads(
  bundle: string,
  dir: string,
  publicKeyPem: string,
): Promise<{ readonly systemImage: string; readonly loader: string }> {
  await mkdir(dir, { recursive: true });
  await readBundle(createReadStream(bundle), {
    trustedKeys: [releaseKeyFromPem(publicKeyPem)],
    openPayload: async (file) => {
      const handle = await open(join(dir, file.role), 'w');
      return {
        write: async (chunk: Uint8Array) => {
          await handle.write(chunk);
        },
        close: () => handle.close(),
      };
    },
  });
  return { systemImage: join(dir, 'system'), loader: join(dir, 'loader') };
}

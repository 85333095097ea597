// Replaces a file whole or not at all: a power cut leaves the old content or the new, never a
// torn file that a reader (etcd, the next boot) would refuse.
import { rename, writeFile } from 'node:fs/promises';

export async function writeAtomically(
  path: string,
  content: string | Uint8Array,
  mode = 0o644,
): Promise<void> {
  const temp = `${path}.tmp`;
  await writeFile(temp, content, { mode, flush: true });
  await rename(temp, path);
}

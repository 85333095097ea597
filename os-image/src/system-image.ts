// The process flavour's system image: an uncompressed ustar archive. Tar is self-delimiting
// (two zero blocks end it), so it can sit at the start of a zero-padded fixed-size slot.
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { create } from 'tar';
import { errorMessage } from '@metropolis/errors';
import { OsImageError } from './errors.js';

/** One regular file of the image. */
export interface SystemImageFile {
  /** A relative path; directories get no entries of their own (`crds/x.yaml`). */
  readonly name: string;
  readonly contents: Uint8Array;
}

/** Every entry's mtime (the Unix epoch), so builds are reproducible. */
const fixedMtime = new Date(0);

/**
 * Writes the files, in order, as a tar archive to `outPath`. Reproducible: mode 0644, empty
 * owner fields (read as 0:0), mtime 0, no pax headers for names up to 100 bytes.
 * @throws OsImageError OS_IMAGE_SYSTEM_IMAGE_FAILED.
 */
export async function writeSystemImage(
  outPath: string,
  files: readonly SystemImageFile[],
): Promise<void> {
  const stage = await mkdtemp(join(tmpdir(), 'metropolis-system-image-'));
  try {
    for (const file of files) {
      const path = join(stage, file.name);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, file.contents);
      // The umask must not leak into the archive.
      await chmod(path, 0o644);
    }
    await create(
      { file: outPath, cwd: stage, portable: true, mtime: fixedMtime, noDirRecurse: true },
      files.map((file) => file.name),
    );
  } catch (cause) {
    throw new OsImageError(
      'OS_IMAGE_SYSTEM_IMAGE_FAILED',
      `writing the system image ${outPath} failed: ${errorMessage(cause)}`,
      { cause },
    );
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

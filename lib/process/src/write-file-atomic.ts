// Replaces a file so that readers see the old or the new content, never a mix: a crash while
// writing credentials or a kubeconfig must not leave a truncated file behind.
import { randomBytes } from 'node:crypto';
import { link, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface WriteFileAtomicOptions {
  /** Permission bits of the file, applied regardless of the umask. */
  readonly mode: number;
  /**
   * Fail with EEXIST instead of replacing an existing file (a new private key must never
   * overwrite one that may already certify a cluster owner). @default false
   */
  readonly exclusive?: boolean;
}

/** Writes `data` to a temp file beside `path`, fsyncs it, and moves it into place. */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: WriteFileAtomicOptions,
): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const file = await open(temp, 'wx', options.mode);
  try {
    await file.writeFile(data);
    // open() applies the umask; the mode of a credential file must not depend on it.
    await file.chmod(options.mode);
    await file.sync();
  } catch (error) {
    await file.close();
    await rm(temp, { force: true });
    throw error;
  }
  await file.close();
  try {
    // link() refuses an existing target where rename() would replace it.
    if (options.exclusive === true) await link(temp, path);
    else await rename(temp, path);
  } finally {
    await rm(temp, { force: true });
  }
  // The new directory entry is durable only once the directory is synced.
  const directory = await open(dirname(path), 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

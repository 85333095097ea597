// Whether a file or directory is there, for the agent's "issue once, keep" files.
import { access } from 'node:fs/promises';

export function pathExists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

// A node's serial console: the firmware emulator's messages go to the same file as the agent's
// output, so one file tells the whole story of a node across boots.
import { appendFile } from 'node:fs/promises';

/** Appends lines to a console log file. */
export class ConsoleLog {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  /** Appends each line; one write, so lines of one call stay together. */
  async print(...lines: readonly string[]): Promise<void> {
    await appendFile(this.path, lines.map((line) => `${line}\n`).join(''));
  }
}

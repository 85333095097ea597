// A block of output that `--watch` keeps current. On a terminal it is redrawn in place (ANSI
// cursor-up and erase); elsewhere (a pipe, a file) a new block is printed only when the state
// behind it changed, so logs stay readable and free of escape codes.

export interface LiveBlockOptions {
  /** Writes raw text to the output (stdout). */
  readonly write: (text: string) => void;
  /** Whether the output is a terminal that understands ANSI cursor movement. */
  readonly isTTY: boolean;
  /** The terminal's width now, to count wrapped lines; undefined: lines never wrap. */
  readonly columns: () => number | undefined;
}

/** One redrawable block. */
export class LiveBlock {
  readonly #options: LiveBlockOptions;
  /** Terminal rows the last block took (terminal only). */
  #rows = 0;
  #lastText: string | undefined;
  #lastKey: string | undefined;

  constructor(options: LiveBlockOptions) {
    this.#options = options;
  }

  /**
   * Shows `text`. `key` identifies the state it renders (without the clock): off a terminal a
   * block is printed only when the key changed, so ages ticking by print nothing.
   */
  show(text: string, key: string): void {
    const { write, isTTY, columns } = this.#options;
    if (!isTTY) {
      if (key === this.#lastKey) return;
      write(`${this.#lastKey === undefined ? '' : '\n'}${text}\n`);
      this.#lastKey = key;
      return;
    }
    if (text === this.#lastText) return;
    // Cursor to the start of the block's first row, then erase from there to the end.
    const erase = this.#rows === 0 ? '' : `\x1b[${String(this.#rows)}F\x1b[J`;
    write(`${erase}${text}\n`);
    const width = columns();
    this.#rows = text.split('\n').reduce((rows, line) => rows + rowsOf(line.length, width), 0);
    this.#lastText = text;
  }
}

// Line length in UTF-16 units is its width: the output is ASCII but for "→" and "…".
function rowsOf(width: number, columns: number | undefined): number {
  if (columns === undefined || columns <= 0) return 1;
  return Math.max(1, Math.ceil(width / columns));
}

// The last N log records kept in memory and a feed of new ones, so a service can serve its
// own log (backlog + follow) without reading files back.

/** One log line as it was logged. */
export interface LogRecord {
  readonly timeMs: number;
  readonly level: string;
  readonly message: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

export type LogListener = (record: LogRecord) => void;

/** A bounded ring of log records with subscribers. */
export class LogRing {
  readonly capacity: number;
  #records: LogRecord[] = [];
  #listeners = new Set<LogListener>();

  constructor(capacity = 4096) {
    this.capacity = capacity;
  }

  push(record: LogRecord): void {
    this.#records.push(record);
    if (this.#records.length > this.capacity) this.#records.shift();
    for (const listener of this.#listeners) listener(record);
  }

  /** The last `count` records, oldest first; a negative count means all that are kept. */
  recent(count: number): LogRecord[] {
    if (count < 0) return [...this.#records];
    return count === 0 ? [] : this.#records.slice(-count);
  }

  /** Calls `listener` for every record pushed from now on; returns the unsubscribe function. */
  subscribe(listener: LogListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }
}

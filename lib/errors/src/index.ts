// The base of every typed error in the project: callers match on a stable `code`, never on
// message text, and wrapped errors keep their `cause` (ES2022), like Go's %w.

/** An error with a stable, machine-readable code. Subclass it once per package. */
export class CodedError<Code extends string = string> extends Error {
  readonly code: Code;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The message of anything thrown, for wrapping errors whose type we do not control. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

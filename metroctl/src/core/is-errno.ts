// Recognises Node's system errors (ENOENT, EEXIST, ECONNREFUSED...) without casts.

/** Whether `error` is a Node system error with this errno code. */
export function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && 'code' in error && error.code === code;
}

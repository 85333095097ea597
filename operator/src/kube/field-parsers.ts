// Parsing objects from the API server field by field, with errors that name the resource kind,
// the field, what was expected and what came: shared by the MonogonNode and OSUpdate parsers.
import { OperatorError } from '../errors.js';

/** The metadata fields the operator uses. */
export interface ResourceMeta {
  readonly name: string;
  readonly uid: string;
  readonly resourceVersion: string;
  readonly generation: number;
  readonly deletionTimestamp?: string;
  readonly creationTimestamp?: string;
  /** Read on MonogonNodes: deletion waits for the operator's own. */
  readonly finalizers?: readonly string[];
  /** Read where a selector matches on them (MonogonNodes). */
  readonly labels?: Readonly<Record<string, string>>;
}

/** Lists a string union's values: an extra value, or a missing one, does not compile. */
export function allOf<T extends string>() {
  return <const V extends readonly T[]>(
    values: V & ([T] extends [V[number]] ? unknown : never),
  ): V => values;
}

/** `{ key: value }` when value is defined, else `{}`: keeps optional fields truly absent. */
export function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  const result: Partial<Record<K, V>> = {};
  if (value !== undefined) result[key] = value;
  return result;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Field parsers whose errors (OPERATOR_MALFORMED_RESOURCE) name `kind`. */
export function fieldParsers(kind: string) {
  function malformed(field: string, expected: string, value: unknown): OperatorError {
    return new OperatorError(
      'OPERATOR_MALFORMED_RESOURCE',
      `${kind} ${field}: expected ${expected}, got ${value === undefined ? 'nothing' : JSON.stringify(value)}`,
    );
  }

  function record(value: unknown, field: string): Record<string, unknown> {
    if (!isRecord(value)) throw malformed(field, 'an object', value);
    return value;
  }

  function string(value: unknown, field: string): string {
    if (typeof value !== 'string') throw malformed(field, 'a string', value);
    return value;
  }

  function optionalString(value: unknown, field: string): string | undefined {
    return value === undefined || value === null ? undefined : string(value, field);
  }

  function optionalNumber(value: unknown, field: string): number | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw malformed(field, 'a number', value);
    }
    return value;
  }

  function optionalBoolean(value: unknown, field: string): boolean | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') throw malformed(field, 'a boolean', value);
    return value;
  }

  function oneOf<T extends string>(value: unknown, allowed: readonly T[], field: string): T {
    const found = allowed.find((candidate) => candidate === value);
    if (found === undefined) throw malformed(field, `one of ${allowed.join(', ')}`, value);
    return found;
  }

  function optionalOneOf<T extends string>(
    value: unknown,
    allowed: readonly T[],
    field: string,
  ): T | undefined {
    return value === undefined || value === null ? undefined : oneOf(value, allowed, field);
  }

  function optionalList<T>(
    value: unknown,
    field: string,
    item: (value: unknown, field: string) => T,
  ): T[] | undefined {
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value)) throw malformed(field, 'a list', value);
    return value.map((element: unknown, index) => item(element, `${field}[${String(index)}]`));
  }

  return {
    malformed,
    record,
    string,
    optionalString,
    optionalNumber,
    optionalBoolean,
    oneOf,
    optionalOneOf,
    optionalList,
  };
}

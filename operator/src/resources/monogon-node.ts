// The MonogonNode resource as the operator sees it: its API coordinates, the value sets of its
// enums, and a parser that turns whatever the API server sent into the generated types (from
// crds/monogon-node.yaml, via @metropolis/api) at the edge, so nothing inside trusts raw JSON.
import {
  monogonNodeGroup,
  monogonNodeKind,
  monogonNodePlural,
  monogonNodeVersion,
  type MonogonNodeCondition,
  type MonogonNodeHealth,
  type MonogonNodeRole,
  type MonogonNodeSlot,
  type MonogonNodeSpec,
  type MonogonNodeState,
  type MonogonNodeStatus,
} from '@metropolis/api';
import { OperatorError } from '../errors.js';

/** Where MonogonNode lives in the API. */
export const monogonNodeResource = {
  group: monogonNodeGroup,
  version: monogonNodeVersion,
  plural: monogonNodePlural,
  kind: monogonNodeKind,
} as const;

// The enums' values, checked against the generated unions in both directions, so a CRD change
// that adds a value fails to compile here instead of failing to parse at runtime.
export const monogonNodeRoles = allOf<MonogonNodeRole>()([
  'ConsensusMember',
  'KubernetesController',
  'KubernetesWorker',
]);
export const monogonNodeStates = allOf<MonogonNodeState>()([
  'NEW',
  'STANDBY',
  'UP',
  'DECOMMISSIONED',
]);
export const monogonNodeHealths = allOf<MonogonNodeHealth>()([
  'HEALTHY',
  'UNHEALTHY',
  'HEARTBEAT_TIMEOUT',
  'UNKNOWN',
]);
export const monogonNodeSlots = allOf<MonogonNodeSlot>()(['A', 'B']);

/** Lists a string union's values: an extra value, or a missing one, does not compile. */
function allOf<T extends string>() {
  return <const V extends readonly T[]>(
    values: V & ([T] extends [V[number]] ? unknown : never),
  ): V => values;
}

/** The metadata fields the operator uses. */
export interface ResourceMeta {
  readonly name: string;
  readonly uid: string;
  readonly resourceVersion: string;
  readonly generation: number;
  readonly deletionTimestamp?: string;
  readonly creationTimestamp?: string;
}

/**
 * One MonogonNode as the operator sees it: the generated spec and status types, and the
 * metadata the operator relies on, present (the API server always sets it).
 */
export interface NodeResource {
  readonly metadata: ResourceMeta;
  readonly spec: MonogonNodeSpec;
  readonly status: MonogonNodeStatus;
}

/**
 * Parses an object from the API server (a watch event, a GET or a status write response).
 * Fields the operator does not know are dropped; a known field of the wrong type is refused.
 * @throws {OperatorError} `OPERATOR_MALFORMED_RESOURCE`
 */
export function parseMonogonNode(raw: unknown): NodeResource {
  const object = record(raw, 'object');
  const metadata = record(object.metadata, 'metadata');
  const name = string(metadata.name, 'metadata.name');
  const at = (field: string): string => `${name}: ${field}`;
  const meta: ResourceMeta = {
    name,
    uid: string(metadata.uid, at('metadata.uid')),
    resourceVersion: string(metadata.resourceVersion, at('metadata.resourceVersion')),
    generation: optionalNumber(metadata.generation, at('metadata.generation')) ?? 0,
    ...optional(
      'deletionTimestamp',
      optionalString(metadata.deletionTimestamp, at('metadata.deletionTimestamp')),
    ),
  };
  const spec = record(object.spec ?? {}, at('spec'));
  const status = record(object.status ?? {}, at('status'));
  return {
    metadata: meta,
    spec: {
      ...optional(
        'roles',
        optionalList(spec.roles, at('spec.roles'), (v, f) => oneOf(v, monogonNodeRoles, f)),
      ),
      ...optional('approved', optionalBoolean(spec.approved, at('spec.approved'))),
    },
    status: parseStatus(status, at),
  };
}

function parseStatus(
  status: Record<string, unknown>,
  at: (field: string) => string,
): MonogonNodeStatus {
  const slot = (value: unknown, field: string) => oneOf(value, monogonNodeSlots, field);
  return {
    ...optional('state', optionalOneOf(status.state, monogonNodeStates, at('status.state'))),
    ...optional('health', optionalOneOf(status.health, monogonNodeHealths, at('status.health'))),
    ...optional('address', optionalString(status.address, at('status.address'))),
    ...optional('tpm', optionalBoolean(status.tpm, at('status.tpm'))),
    ...optional('version', optionalString(status.version, at('status.version'))),
    ...optional('bootedSlot', optionalOneOf(status.bootedSlot, monogonNodeSlots, at('bootedSlot'))),
    ...optional('bootOrder', optionalList(status.bootOrder, at('status.bootOrder'), slot)),
    ...optional(
      'runningRoles',
      optionalList(status.runningRoles, at('status.runningRoles'), (v, f) =>
        oneOf(v, monogonNodeRoles, f),
      ),
    ),
    ...optional('lastHeartbeat', optionalString(status.lastHeartbeat, at('status.lastHeartbeat'))),
    ...optional(
      'conditions',
      optionalList(status.conditions, at('status.conditions'), parseCondition),
    ),
    ...optional(
      'observedGeneration',
      optionalNumber(status.observedGeneration, at('status.observedGeneration')),
    ),
  };
}

function parseCondition(raw: unknown, field: string): MonogonNodeCondition {
  const condition = record(raw, field);
  return {
    type: string(condition.type, `${field}.type`),
    status: oneOf(condition.status, ['True', 'False', 'Unknown'] as const, `${field}.status`),
    reason: string(condition.reason, `${field}.reason`),
    message: optionalString(condition.message, `${field}.message`) ?? '',
    lastTransitionTime: string(condition.lastTransitionTime, `${field}.lastTransitionTime`),
    ...optional(
      'observedGeneration',
      optionalNumber(condition.observedGeneration, `${field}.observedGeneration`),
    ),
  };
}

/** `{ key: value }` when value is defined, else `{}`: keeps optional fields truly absent. */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]?: V });
}

function malformed(field: string, expected: string, value: unknown): OperatorError {
  return new OperatorError(
    'OPERATOR_MALFORMED_RESOURCE',
    `MonogonNode ${field}: expected ${expected}, got ${value === undefined ? 'nothing' : JSON.stringify(value)}`,
  );
}

function record(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw malformed(field, 'an object', value);
  }
  return value as Record<string, unknown>;
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
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw malformed(field, 'a number', value);
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

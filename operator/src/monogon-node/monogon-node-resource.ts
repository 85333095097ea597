// The MonogonNode resource as the operator sees it: a parser that turns whatever the API server
// sent into the generated types (from crds/monogon-node.yaml, via @metropolis/api) at the edge,
// so nothing inside trusts raw JSON. Coordinates and enum values come generated from lib/api.
import {
  monogonNodeHealths,
  monogonNodeRoles,
  monogonNodeSlots,
  monogonNodeStates,
  type MonogonNodeCondition,
  type MonogonNodeSpec,
  type MonogonNodeStatus,
} from '@metropolis/api';
import { fieldParsers, optional, type ResourceMeta } from '../kube/field-parsers.js';

const {
  record,
  string,
  optionalString,
  optionalNumber,
  optionalBoolean,
  oneOf,
  optionalOneOf,
  optionalList,
} = fieldParsers('MonogonNode');

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
function labels(raw: unknown, at: (field: string) => string): Record<string, string> | undefined {
  if (raw === undefined) return undefined;
  return Object.fromEntries(
    Object.entries(record(raw, at('metadata.labels'))).map(([key, value]) => [
      key,
      string(value, at(`metadata.labels.${key}`)),
    ]),
  );
}

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
    ...optional('labels', labels(metadata.labels, at)),
    ...optional(
      'finalizers',
      optionalList(metadata.finalizers, at('metadata.finalizers'), (v, f) => string(v, f)),
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

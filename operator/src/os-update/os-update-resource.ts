// The OSUpdate resource as the operator sees it: a parser that turns whatever the API server sent
// into the generated types (from crds/os-update.yaml, via @metropolis/api) with defaults applied
// and the rollout knobs decoded. Coordinates, enum values and the rules come from lib/api.
import {
  decodeMaxUnavailable as decodeMaxUnavailableValue,
  crdDuration,
  maxUnavailableRule,
  osUpdateConditionStatuses,
  osUpdateFailurePolicies,
  osUpdateNodePhases,
  osUpdateNodeSelectorOperators,
  osUpdatePhases,
  osUpdateSlots,
  parseDuration,
  type MaxUnavailable,
  type OSUpdateBundle,
  type OSUpdateCondition,
  type OSUpdateCounts,
  type OSUpdateFailurePolicy,
  type OSUpdateNodeSelector,
  type OSUpdateNodeSelectorRequirement,
  type OSUpdateNodeStatus,
  type OSUpdateSpec,
  type OSUpdateStatus,
  type OSUpdateStrategy,
} from '@metropolis/api';
import { fieldParsers, optional, type ResourceMeta } from '../kube/field-parsers.js';

const {
  malformed,
  record,
  string,
  optionalString,
  optionalNumber,
  optionalBoolean,
  oneOf,
  optionalOneOf,
  optionalList,
} = fieldParsers('OSUpdate');

/** The CRD's defaults (crds/os-update.yaml), applied again here for objects built by hand. */
export const osUpdateStrategyDefaults = {
  maxUnavailable: 1,
  bootTimeout: '10m',
  healthTimeout: '5m',
  failurePolicy: 'Halt',
} as const satisfies Required<OSUpdateStrategy>;

/** spec with every default filled in: what the API server returns for a stored object. */
export type OSUpdateSpecWithDefaults = Omit<
  OSUpdateSpec,
  'strategy' | 'paused' | 'allowDowngrade'
> & {
  strategy: Required<OSUpdateStrategy>;
  paused: boolean;
  allowDowngrade: boolean;
};

/** spec.strategy decoded for the rollout: the budget and the timeouts in milliseconds. */
export interface OSUpdateRollout {
  readonly maxUnavailable: MaxUnavailable;
  readonly bootTimeoutMs: number;
  readonly healthTimeoutMs: number;
  readonly failurePolicy: OSUpdateFailurePolicy;
}

/**
 * One OSUpdate as the operator sees it: the generated spec (defaults applied) and status types,
 * the decoded strategy, and the metadata the operator relies on, present (the API server always
 * sets it).
 */
export interface OSUpdateResource {
  readonly metadata: ResourceMeta;
  readonly spec: OSUpdateSpecWithDefaults;
  readonly rollout: OSUpdateRollout;
  readonly status: OSUpdateStatus;
}

/**
 * Parses an object from the API server (a watch event, a GET or a status write response).
 * Fields the operator does not know are dropped; a known field of the wrong type or format (the
 * CRD's rules: sha256, url scheme, maxUnavailable, durations) is refused.
 * @throws {OperatorError} `OPERATOR_MALFORMED_RESOURCE`, naming the object and the field
 */
export function parseOSUpdate(raw: unknown): OSUpdateResource {
  const object = record(raw, 'object');
  const metadata = record(object['metadata'], 'metadata');
  const name = string(metadata['name'], 'metadata.name');
  const at = (field: string): string => `${name}: ${field}`;
  const meta: ResourceMeta = {
    name,
    uid: string(metadata['uid'], at('metadata.uid')),
    resourceVersion: string(metadata['resourceVersion'], at('metadata.resourceVersion')),
    generation: optionalNumber(metadata['generation'], at('metadata.generation')) ?? 0,
    ...optional(
      'deletionTimestamp',
      optionalString(metadata['deletionTimestamp'], at('metadata.deletionTimestamp')),
    ),
    ...optional(
      'creationTimestamp',
      optionalString(metadata['creationTimestamp'], at('metadata.creationTimestamp')),
    ),
  };
  const spec = parseSpec(record(object['spec'], at('spec')), at);
  return {
    metadata: meta,
    spec,
    rollout: {
      maxUnavailable: decodeMaxUnavailable(
        spec.strategy.maxUnavailable,
        at('spec.strategy.maxUnavailable'),
      ),
      bootTimeoutMs: durationMs(spec.strategy.bootTimeout, at('spec.strategy.bootTimeout')),
      healthTimeoutMs: durationMs(spec.strategy.healthTimeout, at('spec.strategy.healthTimeout')),
      failurePolicy: spec.strategy.failurePolicy,
    },
    status: parseStatus(record(object['status'] ?? {}, at('status')), at),
  };
}

/**
 * How many nodes may be updating at once out of `selected`: the count itself, or the percentage
 * of `selected` rounded down; at least 1 either way, so that a rollout always moves.
 */
export function maxUnavailableNodes(maxUnavailable: MaxUnavailable, selected: number): number {
  const nodes =
    maxUnavailable.kind === 'nodes'
      ? maxUnavailable.nodes
      : Math.floor((selected * maxUnavailable.percent) / 100);
  return Math.max(1, nodes);
}

/**
 * Milliseconds in a duration as the CRD admits it (the shared grammar in @metropolis/api): e.g.
 * "90s", "10m", "1h30m", "2.5m"; more than zero.
 * @throws {OperatorError} `OPERATOR_MALFORMED_RESOURCE` for anything else
 */
export function durationMs(text: string, field = 'duration'): number {
  const ms = parseDuration(text, crdDuration);
  if (ms === undefined) {
    throw malformed(field, 'a duration of more than zero such as 90s, 10m or 1h30m', text);
  }
  return ms;
}

function parseSpec(
  spec: Record<string, unknown>,
  at: (field: string) => string,
): OSUpdateSpecWithDefaults {
  const strategy = record(spec['strategy'] ?? {}, at('spec.strategy'));
  return {
    version: string(spec['version'], at('spec.version')),
    bundle: parseBundle(record(spec['bundle'], at('spec.bundle')), at),
    ...optional(
      'nodeSelector',
      spec['nodeSelector'] === undefined || spec['nodeSelector'] === null
        ? undefined
        : parseSelector(record(spec['nodeSelector'], at('spec.nodeSelector')), at),
    ),
    strategy: {
      maxUnavailable: intOrString(
        strategy['maxUnavailable'] ?? osUpdateStrategyDefaults.maxUnavailable,
        at('spec.strategy.maxUnavailable'),
      ),
      bootTimeout:
        optionalString(strategy['bootTimeout'], at('spec.strategy.bootTimeout')) ??
        osUpdateStrategyDefaults.bootTimeout,
      healthTimeout:
        optionalString(strategy['healthTimeout'], at('spec.strategy.healthTimeout')) ??
        osUpdateStrategyDefaults.healthTimeout,
      failurePolicy:
        optionalOneOf(
          strategy['failurePolicy'],
          osUpdateFailurePolicies,
          at('spec.strategy.failurePolicy'),
        ) ?? osUpdateStrategyDefaults.failurePolicy,
    },
    paused: optionalBoolean(spec['paused'], at('spec.paused')) ?? false,
    allowDowngrade: optionalBoolean(spec['allowDowngrade'], at('spec.allowDowngrade')) ?? false,
  };
}

function parseBundle(
  bundle: Record<string, unknown>,
  at: (field: string) => string,
): OSUpdateBundle {
  const url = string(bundle['url'], at('spec.bundle.url'));
  if (!/^https?:\/\/[^/?#\s]/.test(url)) {
    throw malformed(at('spec.bundle.url'), 'an http:// or https:// URL with a host', url);
  }
  const sha256 = string(bundle['sha256'], at('spec.bundle.sha256'));
  if (!/^[0-9a-f]{64}$/.test(sha256)) {
    throw malformed(at('spec.bundle.sha256'), '64 lowercase hexadecimal digits', sha256);
  }
  return { url, sha256 };
}

function parseSelector(
  selector: Record<string, unknown>,
  at: (field: string) => string,
): OSUpdateNodeSelector {
  const labels = selector['matchLabels'];
  const field = at('spec.nodeSelector.matchLabels');
  return {
    ...optional(
      'matchLabels',
      labels === undefined || labels === null
        ? undefined
        : Object.fromEntries(
            Object.entries(record(labels, field)).map(([key, value]) => [
              key,
              string(value, `${field}.${key}`),
            ]),
          ),
    ),
    ...optional(
      'matchExpressions',
      optionalList(
        selector['matchExpressions'],
        at('spec.nodeSelector.matchExpressions'),
        parseRequirement,
      ),
    ),
  };
}

function parseRequirement(raw: unknown, field: string): OSUpdateNodeSelectorRequirement {
  const requirement = record(raw, field);
  return {
    key: string(requirement['key'], `${field}.key`),
    operator: oneOf(requirement['operator'], osUpdateNodeSelectorOperators, `${field}.operator`),
    ...optional('values', optionalList(requirement['values'], `${field}.values`, string)),
  };
}

function parseStatus(
  status: Record<string, unknown>,
  at: (field: string) => string,
): OSUpdateStatus {
  const counts = status['counts'];
  return {
    ...optional(
      'observedGeneration',
      optionalNumber(status['observedGeneration'], at('status.observedGeneration')),
    ),
    ...optional('phase', optionalOneOf(status['phase'], osUpdatePhases, at('status.phase'))),
    ...optional('summary', optionalString(status['summary'], at('status.summary'))),
    ...optional('updated', optionalString(status['updated'], at('status.updated'))),
    ...optional(
      'counts',
      counts === undefined || counts === null
        ? undefined
        : parseCounts(record(counts, at('status.counts')), at('status.counts')),
    ),
    ...optional('nodes', optionalList(status['nodes'], at('status.nodes'), parseNodeStatus)),
    ...optional(
      'conditions',
      optionalList(status['conditions'], at('status.conditions'), parseCondition),
    ),
  };
}

function parseCounts(counts: Record<string, unknown>, field: string): OSUpdateCounts {
  const count = (key: keyof OSUpdateCounts) =>
    optional(key, optionalNumber(counts[key], `${field}.${key}`));
  return {
    ...count('total'),
    ...count('pending'),
    ...count('staged'),
    ...count('updating'),
    ...count('committed'),
    ...count('rolledBack'),
    ...count('failed'),
    ...count('reverted'),
  };
}

/** The fields of a node's entry that are plain strings. */
type NodeStatusText =
  | 'fromVersion'
  | 'toVersion'
  | 'startedAt'
  | 'finishedAt'
  | 'bootTimeBeforeReboot'
  | 'rebootRequestedAt'
  | 'reason'
  | 'message'
  | 'unhealthyOnTarget';

function parseNodeStatus(raw: unknown, field: string): OSUpdateNodeStatus {
  const node = record(raw, field);
  const text = <K extends NodeStatusText>(key: K) =>
    optional(key, optionalString(node[key], `${field}.${key}`));
  const slot = (key: 'fromSlot' | 'toSlot') =>
    optional(key, optionalOneOf(node[key], osUpdateSlots, `${field}.${key}`));
  return {
    node: string(node['node'], `${field}.node`),
    ...optional('phase', optionalOneOf(node['phase'], osUpdateNodePhases, `${field}.phase`)),
    ...text('fromVersion'),
    ...text('toVersion'),
    ...slot('fromSlot'),
    ...slot('toSlot'),
    ...text('startedAt'),
    ...text('finishedAt'),
    ...text('bootTimeBeforeReboot'),
    ...text('rebootRequestedAt'),
    ...text('reason'),
    ...text('message'),
    ...text('unhealthyOnTarget'),
  };
}

function parseCondition(raw: unknown, field: string): OSUpdateCondition {
  const condition = record(raw, field);
  return {
    type: string(condition['type'], `${field}.type`),
    status: oneOf(condition['status'], osUpdateConditionStatuses, `${field}.status`),
    reason: string(condition['reason'], `${field}.reason`),
    message: optionalString(condition['message'], `${field}.message`) ?? '',
    lastTransitionTime: string(condition['lastTransitionTime'], `${field}.lastTransitionTime`),
    ...optional(
      'observedGeneration',
      optionalNumber(condition['observedGeneration'], `${field}.observedGeneration`),
    ),
  };
}

function intOrString(value: unknown, field: string): number | string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  throw malformed(field, 'an integer or a string', value);
}

function decodeMaxUnavailable(value: number | string, field: string): MaxUnavailable {
  const decoded = decodeMaxUnavailableValue(value);
  if (decoded === undefined) throw malformed(field, maxUnavailableRule, value);
  return decoded;
}

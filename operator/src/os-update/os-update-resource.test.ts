// Parsing API objects into OSUpdate types at the edge: defaults, the decoded strategy, refusals.
import test, { type ExecutionContext } from 'ava';
import { OperatorError } from '../errors.js';
import { durationMs, maxUnavailableNodes, parseOSUpdate } from './os-update-resource.js';

const sha256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const metadata = { name: 'to-0.2.0', uid: 'u', resourceVersion: '7', generation: 2 };
const bundle = { url: 'https://releases.example.com/0.2.0.bundle', sha256 };

const raw = {
  apiVersion: 'metropolis.monogon.dev/v1alpha1',
  kind: 'OSUpdate',
  metadata: { ...metadata, labels: {} },
  spec: {
    version: '0.2.0',
    bundle,
    nodeSelector: {
      matchLabels: { 'example.com/rack': 'r1' },
      matchExpressions: [{ key: 'zone', operator: 'In', values: ['z1'] }],
    },
    strategy: {
      maxUnavailable: '50%',
      bootTimeout: '1h30m',
      healthTimeout: '90s',
      failurePolicy: 'Revert',
    },
    paused: false,
    allowDowngrade: false,
    future: 1,
  },
  status: {
    observedGeneration: 2,
    phase: 'Progressing',
    updated: '1/2',
    counts: { total: 2, committed: 1, updating: 1 },
    nodes: [
      {
        node: 'metropolis-ab',
        phase: 'Rebooting',
        fromSlot: 'A',
        toSlot: 'B',
        bootTimeBeforeReboot: '2026-01-01T00:00:00Z',
        future: true,
      },
    ],
    conditions: [
      {
        type: 'Progressing',
        status: 'True',
        reason: 'NodesUpdating',
        message: '',
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
    ],
  },
};

/** raw with spec.strategy replaced. */
function withStrategy(strategy: Record<string, unknown>): unknown {
  return { ...raw, spec: { ...raw.spec, strategy } };
}

/** Asserts that parsing `value` fails as malformed; returns the message. */
function refusal(t: ExecutionContext, value: unknown): string {
  const error = t.throws(() => parseOSUpdate(value), { instanceOf: OperatorError });
  t.is(error.code, 'OPERATOR_MALFORMED_RESOURCE');
  return error.message;
}

test('an API object parses into our types, unknown fields dropped', (t) => {
  const update = parseOSUpdate(raw);
  t.deepEqual(update.metadata, metadata);
  const { future: _future, ...spec } = raw.spec;
  t.deepEqual(update.spec, spec);
  t.deepEqual(update.rollout, {
    maxUnavailable: { kind: 'percent', percent: 50 },
    bootTimeoutMs: 5_400_000,
    healthTimeoutMs: 90_000,
    failurePolicy: 'Revert',
  });
  t.deepEqual(update.status.nodes, [
    {
      node: 'metropolis-ab',
      phase: 'Rebooting',
      fromSlot: 'A',
      toSlot: 'B',
      bootTimeBeforeReboot: '2026-01-01T00:00:00Z',
    },
  ]);
  t.deepEqual(update.status.counts, { total: 2, committed: 1, updating: 1 });
  t.is(update.status.conditions?.[0]?.reason, 'NodesUpdating');
  t.false('summary' in update.status, 'absent fields stay absent');
});

test('a spec without strategy or paused gets the CRD defaults; a missing status is empty', (t) => {
  const update = parseOSUpdate({ metadata, spec: { version: '0.2.0', bundle } });
  t.deepEqual(update.spec, {
    version: '0.2.0',
    bundle,
    strategy: { maxUnavailable: 1, bootTimeout: '10m', healthTimeout: '5m', failurePolicy: 'Halt' },
    paused: false,
    allowDowngrade: false,
  });
  t.false('nodeSelector' in update.spec);
  t.deepEqual(update.rollout, {
    maxUnavailable: { kind: 'nodes', nodes: 1 },
    bootTimeoutMs: 600_000,
    healthTimeoutMs: 300_000,
    failurePolicy: 'Halt',
  });
  t.deepEqual(update.status, {});
});

test('a known field of the wrong type or format is refused with the object and the path', (t) => {
  t.regex(
    refusal(t, { ...raw, status: { phase: 'Done' } }),
    /^OSUpdate to-0\.2\.0: status\.phase: expected one of Pending, .*, got "Done"$/,
  );
  t.regex(
    refusal(t, { ...raw, spec: { ...raw.spec, bundle: { ...bundle, sha256: 'ABC' } } }),
    /to-0\.2\.0: spec\.bundle\.sha256: expected 64 lowercase hexadecimal digits, got "ABC"/,
  );
  t.regex(
    refusal(t, { ...raw, spec: { ...raw.spec, bundle: { ...bundle, url: 'ftp://x' } } }),
    /spec\.bundle\.url: expected an http:\/\/ or https:\/\/ URL with a host/,
  );
  t.regex(refusal(t, withStrategy({ maxUnavailable: 0 })), /spec\.strategy\.maxUnavailable/);
  t.regex(refusal(t, withStrategy({ maxUnavailable: '150%' })), /got "150%"/);
  t.regex(refusal(t, withStrategy({ maxUnavailable: 1.5 })), /an integer or a string/);
  t.regex(refusal(t, withStrategy({ failurePolicy: 'Retry' })), /one of Halt, Revert/);
  t.regex(refusal(t, withStrategy({ bootTimeout: 'ten minutes' })), /spec\.strategy\.bootTimeout/);
  t.regex(refusal(t, withStrategy({ healthTimeout: '0s' })), /spec\.strategy\.healthTimeout/);
  t.regex(
    refusal(t, { ...raw, status: { nodes: [{ phase: 'Pending' }] } }),
    /status\.nodes\[0\]\.node: expected a string, got nothing/,
  );
  t.regex(refusal(t, { metadata, spec: { version: '0.2.0' } }), /spec\.bundle: expected an object/);
  t.regex(refusal(t, { metadata }), /spec: expected an object, got nothing/);
  t.regex(refusal(t, null), /object: expected an object, got null/);
});

test('durations take the units h, m and s, with fractions, and must be more than zero', (t) => {
  t.is(durationMs('90s', 'f'), 90_000);
  t.is(durationMs('10m', 'f'), 600_000);
  t.is(durationMs('1h30m', 'f'), 5_400_000);
  t.is(durationMs('2.5m', 'f'), 150_000);
  t.is(durationMs('1m1m', 'f'), 120_000, 'Go adds repeated units');
  for (const bad of ['', '0s', '10', '500ms', '-1s', '1d', 'ten minutes', '1.h', '999999h']) {
    t.throws(() => durationMs(bad, 'f'), { instanceOf: OperatorError }, bad);
  }
});

test('maxUnavailable resolves to at least one node; percentages round down', (t) => {
  t.is(maxUnavailableNodes({ kind: 'nodes', nodes: 2 }, 5), 2);
  t.is(maxUnavailableNodes({ kind: 'nodes', nodes: 9 }, 5), 9);
  t.is(maxUnavailableNodes({ kind: 'percent', percent: 50 }, 5), 2);
  t.is(maxUnavailableNodes({ kind: 'percent', percent: 100 }, 5), 5);
  t.is(maxUnavailableNodes({ kind: 'percent', percent: 10 }, 3), 1);
  t.is(maxUnavailableNodes({ kind: 'percent', percent: 1 }, 0), 1);
});

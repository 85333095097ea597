// Checks that an API answer is one of our custom resources (types generated from crds/ into
// @metropolis/api). Only the envelope: the API server already enforced the CRD schema.
import {
  monogonNodeApiVersion,
  monogonNodeKind,
  osUpdateApiVersion,
  osUpdateKind,
  type MonogonNode,
  type OSUpdate,
} from '@metropolis/api';

/** Whether `value` is a MonogonNode: its apiVersion and kind, a name, an object spec. */
export function isMonogonNode(value: unknown): value is MonogonNode {
  return isCustomResource(value, monogonNodeApiVersion, monogonNodeKind);
}

/** Whether `value` is an OSUpdate: its apiVersion and kind, a name, an object spec. */
export function isOSUpdate(value: unknown): value is OSUpdate {
  return isCustomResource(value, osUpdateApiVersion, osUpdateKind);
}

function isCustomResource(value: unknown, apiVersion: string, kind: string): boolean {
  if (!isObject(value)) return false;
  const metadata: unknown = value.metadata;
  const spec: unknown = value.spec;
  const status: unknown = value.status;
  return (
    value.apiVersion === apiVersion &&
    value.kind === kind &&
    isObject(metadata) &&
    typeof metadata.name === 'string' &&
    isObject(spec) &&
    (status === undefined || isObject(status))
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

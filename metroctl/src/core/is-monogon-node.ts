// Checks that an API answer is a MonogonNode (types generated from crds/monogon-node.yaml into
// @metropolis/api). Only the envelope: the API server already enforced the CRD schema.
import { monogonNodeApiVersion, monogonNodeKind, type MonogonNode } from '@metropolis/api';

/** Whether `value` is a MonogonNode: its apiVersion and kind, a name, an object spec. */
export function isMonogonNode(value: unknown): value is MonogonNode {
  if (!isObject(value)) return false;
  const metadata: unknown = value.metadata;
  const spec: unknown = value.spec;
  const status: unknown = value.status;
  return (
    value.apiVersion === monogonNodeApiVersion &&
    value.kind === monogonNodeKind &&
    isObject(metadata) &&
    typeof metadata.name === 'string' &&
    isObject(spec) &&
    (status === undefined || isObject(status))
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// Checks that an API answer is an OSUpdate (types generated from crds/os-update.yaml into
// @metropolis/api). Only the envelope: the API server already enforced the CRD schema.
import { osUpdateApiVersion, osUpdateKind, type OSUpdate } from '@metropolis/api';

/** Whether `value` is an OSUpdate: its apiVersion and kind, a name, an object spec. */
export function isOSUpdate(value: unknown): value is OSUpdate {
  if (!isObject(value)) return false;
  const metadata: unknown = value.metadata;
  const spec: unknown = value.spec;
  const status: unknown = value.status;
  return (
    value.apiVersion === osUpdateApiVersion &&
    value.kind === osUpdateKind &&
    isObject(metadata) &&
    typeof metadata.name === 'string' &&
    isObject(spec) &&
    (status === undefined || isObject(status))
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

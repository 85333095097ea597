// Who owns a field of a custom resource, from its metadata.managedFields as the API server
// records it: metroctl's writes must show under its own name.
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';

export interface ResourceType {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
}

/** The managers whose entries own `path` (e.g. ['spec', 'roles']) of `name`, sorted. */
export async function fieldManagersOf(
  kc: KubeConfig,
  resource: ResourceType,
  name: string,
  path: readonly string[],
): Promise<string[]> {
  const object: unknown = await kc
    .makeApiClient(CustomObjectsApi)
    .getClusterCustomObject({ ...resource, name });
  const entries: unknown = Reflect.get(
    Reflect.get(object as object, 'metadata') as object,
    'managedFields',
  );
  if (!Array.isArray(entries)) return [];
  const owners = entries.filter((entry: unknown) => {
    let fields: unknown =
      typeof entry === 'object' && entry !== null ? Reflect.get(entry, 'fieldsV1') : undefined;
    for (const key of path) {
      if (typeof fields !== 'object' || fields === null) return false;
      fields = Reflect.get(fields, `f:${key}`);
    }
    return fields !== undefined;
  });
  return [
    ...new Set(owners.map((entry: unknown) => String(Reflect.get(entry as object, 'manager')))),
  ].sort();
}

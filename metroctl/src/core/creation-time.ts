// metadata.creationTimestamp as the wire carries it (an RFC 3339 string). The generated CRD
// types leave it out (lib/api's ObjectMeta explains why), so it is read here, checked.
import type { ObjectMeta } from '@metropolis/api';

/** When the object was created, RFC 3339; undefined if the server did not say. */
export function creationTime(metadata: ObjectMeta): string | undefined {
  const value: unknown = Reflect.get(metadata, 'creationTimestamp');
  return typeof value === 'string' ? value : undefined;
}

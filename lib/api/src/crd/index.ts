// Custom resource types: generated per CRD into src/gen/crd/ from the YAML (the source of truth),
// plus the metadata types they share. Consumers locate the YAML itself; this package does not.
export * from '../gen/crd/index.js';
export type { ListMeta, ObjectMeta } from './object-meta.js';

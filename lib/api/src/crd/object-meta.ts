// The parts of Kubernetes object and list metadata that the generated CRD types carry, as JSON
// on the wire. Kept assignable to client-node's V1ObjectMeta, so a MonogonNode is a KubernetesObject.

/**
 * Object metadata (metav1.ObjectMeta) as the API server returns it.
 *
 * The timestamps (`creationTimestamp`, `deletionTimestamp`) are left out on purpose: on the wire
 * they are RFC 3339 strings, but client-node types them as `Date`, and declaring either would
 * make these types unusable with client-node's generic helpers (informers, KubernetesObjectApi).
 * Read them through the client's own types where needed.
 */
export interface ObjectMeta {
  /** The object's name; for cluster-scoped resources it is unique in the cluster. */
  name: string;
  /** The namespace; absent for cluster-scoped resources. */
  namespace?: string;
  /** Set by the server on create; identifies this incarnation of the name. */
  uid?: string;
  /** Opaque version for optimistic concurrency and watches; send it back unchanged. */
  resourceVersion?: string;
  /** Incremented by the server on every change of spec (never of status). */
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Keys of controllers that must finish cleaning up before the object goes away. */
  finalizers?: string[];
}

/** List metadata (metav1.ListMeta). */
export interface ListMeta {
  /** The list's resource version: start a watch from here to see every later change. */
  resourceVersion?: string;
  /** Token for the next page of a paginated LIST. */
  continue?: string;
  /** How many items remain after this page, when the server knows. */
  remainingItemCount?: number;
}

// Timestamps as Kubernetes writes metav1.Time, for status fields and conditions.

/** RFC 3339 with whole seconds, as Kubernetes writes metav1.Time. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

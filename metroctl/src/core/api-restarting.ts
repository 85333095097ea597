// Errors that a kube-apiserver restarting (an update of a controller node) causes for a while:
// unreachable, and, once it listens again, permission denied until its RBAC caches are filled.
import { MetroctlError } from '../errors.js';

/**
 * Whether a read that succeeded before may succeed again shortly. Only for loops that already
 * read with the same credentials: there a denial is the restart, not a missing permission.
 */
export function isApiRestarting(error: unknown): error is MetroctlError {
  return (
    error instanceof MetroctlError &&
    (error.code === 'METROCTL_UNREACHABLE' || error.code === 'METROCTL_PERMISSION_DENIED')
  );
}

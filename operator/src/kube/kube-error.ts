// Kubernetes API failures as the operator's typed error: what was being done, and the API
// server's own message when it sent one.
import { ApiException } from '@kubernetes/client-node';
import { errorMessage } from '@metropolis/errors';
import { OperatorError } from '../errors.js';

/** Wraps a client-node failure with what was being done and the API's own message. */
export function kubeError(what: string, error: unknown): OperatorError {
  const detail =
    error instanceof ApiException
      ? `HTTP ${String(error.code)}: ${apiMessage(error.body) ?? error.message}`
      : errorMessage(error);
  return new OperatorError('OPERATOR_KUBE_API', `cannot ${what}: ${detail}`, { cause: error });
}

function apiMessage(body: unknown): string | undefined {
  if (typeof body === 'string') {
    try {
      return apiMessage(JSON.parse(body));
    } catch {
      return body;
    }
  }
  if (typeof body === 'object' && body !== null && 'message' in body) {
    return typeof body.message === 'string' ? body.message : undefined;
  }
  return undefined;
}

// Turns what @kubernetes/client-node throws (ApiException with a Status body, fetch errors)
// into MetroctlErrors, so every command reports API failures the same way.
import { ApiException } from '@kubernetes/client-node';
import { errorMessage } from '@metropolis/errors';
import { MetroctlError, type MetroctlErrorCode } from '../errors.js';

/** A failed API call that got an answer: the HTTP status and its metav1.Status body. */
export interface KubernetesFailure {
  readonly code: number;
  /** Status.message, or the body's text when it is not a Status. */
  readonly message: string | undefined;
  /** Status.reason, e.g. NotFound, Invalid, Conflict. */
  readonly reason: string | undefined;
  /** Status.details.name: the object the failure is about. */
  readonly name: string | undefined;
  /** Status.details.causes as `field: message`, the precise part of a validation failure. */
  readonly causes: readonly string[];
}

const unreachableErrnos = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EAI_AGAIN',
]);

/** The answer of a failed API call; undefined when the call got no answer at all. */
export function kubernetesFailure(error: unknown): KubernetesFailure | undefined {
  if (!(error instanceof ApiException)) return undefined;
  const body: unknown = error.body;
  let status: unknown = body;
  if (typeof body === 'string') {
    try {
      status = JSON.parse(body);
    } catch {
      const text = body.trim();
      return {
        code: error.code,
        message: text === '' ? undefined : text,
        reason: undefined,
        name: undefined,
        causes: [],
      };
    }
  }
  const details = field(status, 'details');
  const causes = field(details, 'causes');
  return {
    code: error.code,
    message: stringField(status, 'message'),
    reason: stringField(status, 'reason'),
    name: stringField(details, 'name'),
    causes: Array.isArray(causes)
      ? causes.flatMap((cause: unknown) => {
          const message = stringField(cause, 'message');
          const path = stringField(cause, 'field');
          if (message === undefined) return [];
          return [path === undefined ? message : `${path}: ${message}`];
        })
      : [],
  };
}

/**
 * A MetroctlError for a failed Kubernetes API call. `what` says what was being done
 * ("list MonogonNodes"); the API's own words are kept, they are usually the clearest part.
 */
export function fromKubernetesError(error: unknown, what: string): MetroctlError {
  if (error instanceof MetroctlError) return error;
  const failure = kubernetesFailure(error);
  if (failure !== undefined) {
    // A validation failure's causes say exactly which rule failed, without the object's name.
    const detail =
      failure.causes.length > 0
        ? failure.causes.join('; ')
        : (failure.message ?? `HTTP ${String(failure.code)}`);
    return new MetroctlError(codeForHttpStatus(failure.code), `cannot ${what}: ${detail}`, {
      cause: error,
    });
  }
  const errno = errnoOf(error);
  if (errno !== undefined && unreachableErrnos.has(errno)) {
    return new MetroctlError(
      'METROCTL_UNREACHABLE',
      `cannot ${what}: the Kubernetes API is unreachable (${errorMessage(error)})`,
      { cause: error },
    );
  }
  return new MetroctlError('METROCTL_FAILED', `cannot ${what}: ${errorMessage(error)}`, {
    cause: error,
  });
}

function codeForHttpStatus(status: number): MetroctlErrorCode {
  if (status === 401 || status === 403) return 'METROCTL_PERMISSION_DENIED';
  if (status === 404) return 'METROCTL_NOT_FOUND';
  if (status === 400 || status === 409 || status === 422) return 'METROCTL_REJECTED';
  // 429 here is the API server starting up or shedding load: try again later.
  if (status === 429 || status === 502 || status === 503 || status === 504) {
    return 'METROCTL_UNREACHABLE';
  }
  return 'METROCTL_FAILED';
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? Reflect.get(value, key) : undefined;
}

function stringField(value: unknown, key: string): string | undefined {
  const found = field(value, key);
  return typeof found === 'string' ? found : undefined;
}

/** The errno code of a network error, looking through `cause` (fetch wraps the socket error). */
function errnoOf(error: unknown): string | undefined {
  let current = error;
  for (let depth = 0; depth < 5; depth++) {
    const code = field(current, 'code');
    if (typeof code === 'string') return code;
    current = field(current, 'cause');
  }
  return undefined;
}

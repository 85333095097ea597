// Kubernetes API failures become coded errors with the API's own words: validation causes,
// not-found, forbidden, and network errors that never got an answer.
import test from 'ava';
import { ApiException } from '@kubernetes/client-node';
import { fromKubernetesError, kubernetesFailure } from './kubernetes-error.js';

const status = (code: number, reason: string, message: string, details?: object) =>
  new ApiException(
    code,
    'Unknown API Status Code!',
    JSON.stringify({ kind: 'Status', status: 'Failure', code, reason, message, details }),
    {},
  );

test('a validation failure keeps the rule that failed', (t) => {
  const error = fromKubernetesError(
    status(422, 'Invalid', 'MonogonNode.metropolis.monogon.dev "metropolis-x" is invalid: ...', {
      name: 'metropolis-x',
      causes: [
        {
          reason: 'FieldValueInvalid',
          field: 'spec.roles',
          message:
            'Invalid value: "array": the KubernetesController role requires the ConsensusMember role',
        },
      ],
    }),
    'update node metropolis-x',
  );
  t.is(error.code, 'METROCTL_REJECTED');
  t.is(
    error.message,
    'cannot update node metropolis-x: spec.roles: Invalid value: "array": the ' +
      'KubernetesController role requires the ConsensusMember role',
  );
});

test('HTTP statuses map to codes', (t) => {
  t.is(fromKubernetesError(status(403, 'Forbidden', 'no'), 'x').code, 'METROCTL_PERMISSION_DENIED');
  t.is(
    fromKubernetesError(status(401, 'Unauthorized', 'no'), 'x').code,
    'METROCTL_PERMISSION_DENIED',
  );
  t.is(fromKubernetesError(status(404, 'NotFound', 'gone'), 'x').code, 'METROCTL_NOT_FOUND');
  t.is(fromKubernetesError(status(409, 'Conflict', 'again'), 'x').code, 'METROCTL_REJECTED');
  t.is(
    fromKubernetesError(status(429, 'TooManyRequests', 'later'), 'x').code,
    'METROCTL_UNREACHABLE',
  );
  t.is(fromKubernetesError(status(500, 'InternalError', 'oops'), 'x').message, 'cannot x: oops');
});

test('the Status details are read', (t) => {
  t.like(kubernetesFailure(status(404, 'NotFound', 'm', { name: 'metropolis-x' })), {
    code: 404,
    reason: 'NotFound',
    name: 'metropolis-x',
  });
  t.like(kubernetesFailure(new ApiException(404, 'x', '404 page not found\n', {})), {
    message: '404 page not found',
    reason: undefined,
  });
  t.is(kubernetesFailure(new Error('no answer')), undefined);
});

test('network errors are unreachable, looking through the cause', (t) => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {
    code: 'ECONNREFUSED',
  });
  const error = fromKubernetesError(
    new Error('request failed', { cause: refused }),
    'list MonogonNodes',
  );
  t.is(error.code, 'METROCTL_UNREACHABLE');
  t.regex(error.message, /^cannot list MonogonNodes: the Kubernetes API is unreachable/);
});

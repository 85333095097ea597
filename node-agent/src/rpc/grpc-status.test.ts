// Errors thrown by RPC handlers as the caller sees them: coded errors keep their status and
// message; anything else is INTERNAL with a generic message, its details only in the node's log.
import test from 'ava';
import { PassThrough } from 'node:stream';
import { status } from '@grpc/grpc-js';
import { LogRing, createLogger } from '@metropolis/logging';
import { AgentError } from '../errors.js';
import { errorCodeMetadataKey, internalErrorMessage, toServiceError } from './grpc-status.js';

function capturingLogger() {
  const ring = new LogRing();
  const log = createLogger({ format: 'json', destination: new PassThrough(), ring });
  return { log, records: () => ring.recent(-1) };
}

test('a coded error keeps its status and message, and is not logged here', (t) => {
  const { log, records } = capturingLogger();
  const error = toServiceError(
    new AgentError('AGENT_STAGE_IN_PROGRESS', 'an update is being staged'),
    log,
  );
  t.is(error.code, status.ABORTED);
  t.is(error.details, 'an update is being staged');
  t.deepEqual(error.metadata?.get(errorCodeMetadataKey), ['AGENT_STAGE_IN_PROGRESS']);
  t.deepEqual(records(), []);
});

test('an error without a code is INTERNAL with a generic message; the log has the details', (t) => {
  const { log, records } = capturingLogger();
  const error = toServiceError(
    new Error("ENOENT: no such file or directory, open '/data/node/secret.pem'"),
    log,
  );
  t.is(error.code, status.INTERNAL);
  t.is(error.details, internalErrorMessage);
  t.is(error.message, internalErrorMessage);
  const [record] = records();
  t.is(record?.level, 'error');
  t.is(record?.fields.error, "ENOENT: no such file or directory, open '/data/node/secret.pem'");
  t.regex(String(record?.fields.stack), /grpc-status\.test\.ts/);
});

test('a thrown non-Error is handled the same way', (t) => {
  const { log, records } = capturingLogger();
  const error = toServiceError('oops', log);
  t.is(error.code, status.INTERNAL);
  t.is(error.details, internalErrorMessage);
  t.is(records()[0]?.fields.error, 'oops');
});

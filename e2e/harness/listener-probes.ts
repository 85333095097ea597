// Real calls to a listener with a caller's certificate, each reduced to a verdict of the
// listener matrix: reachable at all, then served or turned away (in the handshake or by
// authorization). The server's own certificate is not checked: the probe measures whom the
// server admits, not whom the caller should trust.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import {
  credentials as grpcCredentials,
  status,
  type ChannelCredentials,
  type ServiceError,
} from '@grpc/grpc-js';
import type { MeasuredCell } from './security-matrix.js';

/** A caller's TLS client certificate and key (PEM); absent for a caller without one. */
export interface ClientCertificate {
  readonly certificatePem: string;
  readonly keyPem: string;
}

const probeTimeoutMs = 10_000;

/** Whether a TCP connection to `host:port` opens: a closed port, no route or silence is not. */
export function reachable(host: string, port: number): Promise<{ open: boolean; detail: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 3_000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve({ open: true, detail: 'connected' });
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve({ open: false, detail: 'connect timed out' });
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      resolve({ open: false, detail: error.code ?? error.message });
    });
  });
}

/** The verdict of an HTTP status: 2xx served, 401/403 refused, anything else an error. */
function httpVerdict(statusCode: number): MeasuredCell {
  const detail = `HTTP ${String(statusCode)}`;
  if (statusCode >= 200 && statusCode < 300) return { verdict: 'allowed', detail };
  if (statusCode === 401 || statusCode === 403) return { verdict: 'refused', detail };
  return { verdict: 'error', detail };
}

/**
 * An HTTPS request with the caller's client certificate. A connection that opens but fails in
 * TLS (no, or an untrusted, client certificate) is refused; a closed port is unreachable.
 */
export async function probeHttps(
  target: { host: string; port: number; path: string; method?: 'GET' | 'POST'; body?: string },
  client: ClientCertificate | undefined,
): Promise<MeasuredCell> {
  const tcp = await reachable(target.host, target.port);
  if (!tcp.open) return { verdict: 'unreachable', detail: tcp.detail };
  return new Promise((resolve) => {
    const call = httpsRequest(
      {
        host: target.host,
        port: target.port,
        path: target.path,
        method: target.method ?? 'GET',
        headers: target.body === undefined ? {} : { 'content-type': 'application/json' },
        rejectUnauthorized: false,
        timeout: probeTimeoutMs,
        ...(client === undefined ? {} : { cert: client.certificatePem, key: client.keyPem }),
      },
      (response) => {
        response.resume();
        resolve(httpVerdict(response.statusCode ?? 0));
      },
    );
    call.once('timeout', () => {
      call.destroy(new Error('no answer in time'));
    });
    call.once('error', (error: NodeJS.ErrnoException) => {
      // The port is open: a failed TLS exchange is the server turning the certificate away.
      resolve({ verdict: 'refused', detail: `TLS: ${error.code ?? error.message}` });
    });
    call.end(target.body);
  });
}

/** A plain HTTP GET: no certificate can be presented, so every caller gets the same answer. */
export async function probeHttp(target: {
  host: string;
  port: number;
  path: string;
}): Promise<MeasuredCell> {
  const tcp = await reachable(target.host, target.port);
  if (!tcp.open) return { verdict: 'unreachable', detail: tcp.detail };
  return new Promise((resolve) => {
    const call = httpRequest({ ...target, timeout: probeTimeoutMs }, (response) => {
      response.resume();
      resolve(httpVerdict(response.statusCode ?? 0));
    });
    call.once('timeout', () => {
      call.destroy(new Error('no answer in time'));
    });
    call.once('error', (error: NodeJS.ErrnoException) => {
      resolve({ verdict: 'error', detail: error.code ?? error.message });
    });
    call.end();
  });
}

/** gRPC channel credentials presenting `client`, trusting any server certificate. */
export function grpcTls(client: ClientCertificate | undefined): ChannelCredentials {
  return grpcCredentials.createSsl(
    null,
    client === undefined ? null : Buffer.from(client.keyPem),
    client === undefined ? null : Buffer.from(client.certificatePem),
    { rejectUnauthorized: false },
  );
}

function isServiceError(error: unknown): error is ServiceError {
  return error instanceof Error && typeof Reflect.get(error, 'code') === 'number';
}

/** The gRPC status in `error` or its causes. */
function serviceErrorIn(error: unknown): ServiceError | undefined {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    if (isServiceError(cause)) return cause;
  }
  return undefined;
}

/**
 * A gRPC call's verdict: OK is allowed; PERMISSION_DENIED and UNAUTHENTICATED are refused, and
 * so is UNAVAILABLE once the port is known to be open (the handshake failed); any other status
 * is an error. `call` resolves when the call succeeded and rejects with its error.
 */
export async function probeGrpc(
  target: { host: string; port: number },
  call: () => Promise<unknown>,
): Promise<MeasuredCell> {
  const tcp = await reachable(target.host, target.port);
  if (!tcp.open) return { verdict: 'unreachable', detail: tcp.detail };
  try {
    await call();
    return { verdict: 'allowed', detail: 'OK' };
  } catch (error) {
    const found = serviceErrorIn(error);
    if (found === undefined) {
      return { verdict: 'error', detail: error instanceof Error ? error.message : String(error) };
    }
    const name = Object.keys(status).find((key) => Reflect.get(status, key) === found.code);
    // grpc-js appends a timestamp and a resolution note on further lines: the first says it.
    const detail = `${name ?? String(found.code)}: ${found.details.split('\n')[0] ?? ''}`;
    const refusing: readonly number[] = [
      status.PERMISSION_DENIED,
      status.UNAUTHENTICATED,
      status.UNAVAILABLE,
    ];
    return { verdict: refusing.includes(found.code) ? 'refused' : 'error', detail };
  }
}

/** Wraps a grpc-js unary call in a promise with the probe deadline. */
export function unary<Response>(
  invoke: (
    deadline: { deadline: number },
    callback: (error: ServiceError | null, response: Response) => void,
  ) => void,
  timeoutMs = probeTimeoutMs,
): Promise<Response> {
  return new Promise((resolve, reject) => {
    invoke({ deadline: Date.now() + timeoutMs }, (error, response) => {
      if (error === null) resolve(response);
      else reject(error);
    });
  });
}

// Node addresses as users and MonogonNode status give them: a host, optionally with a port
// (tests and process nodes listen on other ports than the default).
import { isIP } from 'node:net';
import { MetroctlError } from '../errors.js';

/** A host and port to dial. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/**
 * Parses `host`, `host:port`, `[v6]:port` or a bare IPv6 address; `defaultPort` fills a
 * missing port. Throws METROCTL_USAGE on anything else.
 */
export function parseEndpoint(text: string, defaultPort: number): Endpoint {
  const trimmed = text.trim();
  if (isIP(trimmed) === 6) return { host: trimmed, port: defaultPort };
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(trimmed);
  const plain = /^([^:[\]\s/]+)(?::(\d+))?$/.exec(trimmed);
  const match = bracketed ?? plain;
  const host = match?.[1];
  if (match === null || host === undefined) {
    throw new MetroctlError(
      'METROCTL_USAGE',
      `not a node address: "${text}" (want HOST or HOST:PORT)`,
    );
  }
  const port = match[2] === undefined ? defaultPort : Number(match[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new MetroctlError('METROCTL_USAGE', `not a TCP port in "${text}"`);
  }
  return { host, port };
}

/** The gRPC target for an endpoint: `host:port`, with IPv6 hosts in brackets. */
export function grpcTarget(endpoint: Endpoint): string {
  const host = isIP(endpoint.host) === 6 ? `[${endpoint.host}]` : endpoint.host;
  return `${host}:${String(endpoint.port)}`;
}

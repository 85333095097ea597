// Serves a prom-client registry at /metrics over plain HTTP, as a supervised runnable, and
// /healthz: an answer means the operator's event loop runs (the node agent's liveness check).
// It shares the process with the leader, so slow or idle clients are bounded (docs/security.md).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@metropolis/logging';
import type { Registry } from 'prom-client';
import { untilAborted } from '@metropolis/supervisor';

export interface MetricsServerOptions {
  readonly registry: Registry;
  /** Host and port; port 0 picks a free one. */
  readonly host: string;
  readonly port: number;
  readonly logger: Logger;
  /** Called with the bound port once listening (tests use port 0). */
  readonly onListening?: (port: number) => void;
  /** Connections beyond this many are closed at once. @default 64 */
  readonly maxConnections?: number;
  /** A request's headers must arrive within this. @default 10 s */
  readonly headersTimeoutMs?: number;
  /** A whole request must arrive within this. @default 30 s */
  readonly requestTimeoutMs?: number;
}

/** Scrapers are few: a handful of connections is plenty, and each must be quick. */
export const metricsServerDefaults = {
  maxConnections: 64,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
} as const;

export class MetricsServer {
  readonly #options: MetricsServerOptions;

  constructor(options: MetricsServerOptions) {
    this.#options = options;
  }

  /** Listens until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const { registry, host, port, logger } = this.#options;
    const limits = { ...metricsServerDefaults, ...this.#options };
    const server = createServer(
      {
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        // Both timeouts are enforced by a periodic check; at the default 30 s it would let a
        // slow client hold its connection three times longer than the header limit.
        connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
        keepAliveTimeout: 5000,
      },
      (request, response) => {
        const path = request.url?.split('?')[0];
        if (request.method === 'GET' && path === '/healthz') {
          response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
          return;
        }
        if (request.method !== 'GET' || path !== '/metrics') {
          response.writeHead(404).end();
          return;
        }
        registry.metrics().then(
          (text) => {
            response.writeHead(200, { 'content-type': registry.contentType }).end(text);
          },
          (error: unknown) => {
            logger.warn('metrics collection failed', { error: String(error) });
            response.writeHead(500).end();
          },
        );
      },
    );
    server.maxConnections = limits.maxConnections;
    await listen(server, host, port);
    const bound = (server.address() as AddressInfo).port;
    logger.info('serving metrics', { host, port: bound });
    this.#options.onListening?.(bound);
    await untilAborted(signal);
    server.closeAllConnections();
    await new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
  }
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

// Serves bundle files over plain HTTP to nodes that stage them. The bundle is signed and the
// node checks the whole file's sha256, so the transport needs no trust of its own.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { pipeline } from 'node:stream/promises';

/** A file being served: where nodes fetch it and what they must find there. */
export interface ServedBundle {
  readonly url: string;
  /** Lowercase hex sha256 of the whole file. */
  readonly sha256: string;
  readonly size: number;
}

export class BundleHttpServer {
  readonly #server: Server;
  /** URL path to file; the request handler reads the same map. */
  readonly #files: Map<string, string>;
  readonly #base: string;

  private constructor(server: Server, files: Map<string, string>, base: string) {
    this.#server = server;
    this.#files = files;
    this.#base = base;
  }

  /** Listens on `host` (an address the nodes reach), port `port` (0: any free one). */
  static async start(options: { host: string; port?: number }): Promise<BundleHttpServer> {
    const files = new Map<string, string>();
    const server = createServer((req, res) => {
      const file = files.get(req.url ?? '');
      if (file === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) {
        res.writeHead(404).end();
        return;
      }
      stat(file).then(
        ({ size }) => {
          res.writeHead(200, {
            'content-type': 'application/octet-stream',
            'content-length': String(size),
          });
          if (req.method === 'HEAD') res.end();
          else pipeline(createReadStream(file), res).catch(() => res.destroy());
        },
        () => res.writeHead(404).end(),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    return new BundleHttpServer(server, files, `http://${host}:${String(address.port)}`);
  }

  /** Serves `file` at a path named by its sha256. */
  async serve(file: string): Promise<ServedBundle> {
    const hash = createHash('sha256');
    await pipeline(createReadStream(file), hash);
    const sha256 = hash.digest('hex');
    const path = `/bundles/${sha256}.bundle`;
    this.#files.set(path, file);
    const { size } = await stat(file);
    return { url: `${this.#base}${path}`, sha256, size };
  }

  /** Stops serving; open downloads are cut. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.closeAllConnections();
      this.#server.close(() => {
        resolve();
      });
    });
  }
}

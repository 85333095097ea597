// `node logs`: streams a node agent's log over the management API (mTLS as the owner) and
// formats each entry as one line: time, level, message, then the structured fields.
import { status } from '@grpc/grpc-js';
import { NodeManagementClient, nodeManagementPort, type LogEntry } from '@metropolis/api';
import { MetroctlError } from '../errors.js';
import type { OwnerCredentials } from './config-store.js';
import { grpcTarget } from './endpoint.js';
import { fromGrpcError, isServiceError } from './grpc-error.js';
import type { MonogonNodes } from './monogon-nodes.js';
import { nodeChannelOptions, ownerChannelCredentials } from './node-channel.js';
import { escapeControlCharacters } from './terminal-text.js';

export interface NodeLogsOptions {
  readonly nodes: MonogonNodes;
  readonly nodeId: string;
  readonly credentials: OwnerCredentials;
  /** Keep streaming new entries until `signal` aborts. */
  readonly follow: boolean;
  /** Past entries to send first: -1 all the node keeps, 0 none. */
  readonly backlog: number;
  readonly onEntry: (entry: LogEntry) => void;
  /** Ends the stream (Ctrl-C); the promise then resolves normally. */
  readonly signal?: AbortSignal;
  /** The node's management port. @default 7839 */
  readonly port?: number;
}

/** Streams the log of `nodeId`, found at its MonogonNode's status.address. */
export async function streamNodeLogs(options: NodeLogsOptions): Promise<void> {
  if (!Number.isInteger(options.backlog) || options.backlog < -1) {
    throw new MetroctlError('METROCTL_USAGE', '--backlog is -1 (all), 0 (none) or a count');
  }
  const node = await options.nodes.get(options.nodeId);
  const address = node.status?.address;
  if (address === undefined || address === '') {
    throw new MetroctlError(
      'METROCTL_UNREACHABLE',
      `node ${options.nodeId} has reported no address yet`,
    );
  }
  const client = new NodeManagementClient(
    grpcTarget({ host: address, port: options.port ?? nodeManagementPort }),
    ownerChannelCredentials(options.credentials, options.nodeId),
    nodeChannelOptions(options.nodeId),
  );
  try {
    await new Promise<void>((resolve, reject) => {
      const call = client.logs({ follow: options.follow, backlog: options.backlog });
      const onAbort = (): void => {
        call.cancel();
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      call.on('data', (entry: LogEntry) => {
        options.onEntry(entry);
      });
      call.on('end', () => {
        options.signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      call.on('error', (error: unknown) => {
        options.signal?.removeEventListener('abort', onAbort);
        if (isServiceError(error) && error.code === status.CANCELLED && options.signal?.aborted) {
          resolve();
        } else {
          reject(fromGrpcError(error, `read the logs of node ${options.nodeId} at ${address}`));
        }
      });
    });
  } finally {
    client.close();
  }
}

/** `2024-02-12T17:42:33.123Z info message key=value ...`: one entry, one line. */
export function formatLogEntry(entry: LogEntry): string {
  const time = new Date(entry.timeUnixMs).toISOString();
  const fields = parseFields(entry.fieldsJson)
    .map(
      ([key, value]) =>
        `${escapeControlCharacters(key)}=${typeof value === 'string' ? quoteIfNeeded(value) : escapeControlCharacters(JSON.stringify(value))}`,
    )
    .join(' ');
  const line = `${time} ${escapeControlCharacters(entry.level)} ${escapeControlCharacters(entry.message)}`;
  return fields === '' ? line : `${line} ${fields}`;
}

function parseFields(json: string): [string, unknown][] {
  if (json === '') return [];
  try {
    const parsed: unknown = JSON.parse(json);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      return Object.entries(parsed);
    }
    return [['fields', parsed]];
  } catch {
    // A node that sends something else still gets its words printed.
    return [['fields', json]];
  }
}

/** JSON.stringify escapes every C0 control; C1 controls need escaping too. */
function quoteIfNeeded(value: string): string {
  return value === '' || /[\s"=]/.test(value)
    ? escapeControlCharacters(JSON.stringify(value))
    : escapeControlCharacters(value);
}

// The address of this machine that a node reaches it by: the source address the kernel picks
// for a route to the node. A connected UDP socket learns it without sending anything.
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import { nodeManagementPort } from '@metropolis/api';
import { errorMessage } from '@metropolis/errors';
import { MetroctlError } from '../errors.js';
import type { ConfigStore } from './config-store.js';
import { parseEndpoint, type Endpoint } from './endpoint.js';

/** The local address the kernel would send from to reach `endpoint`. METROCTL_UNREACHABLE if none. */
export async function localAddressTowards(endpoint: Endpoint): Promise<string> {
  const socket = createSocket(isIP(endpoint.host) === 6 ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(endpoint.port, endpoint.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return socket.address().address;
  } catch (error) {
    throw new MetroctlError(
      'METROCTL_UNREACHABLE',
      `cannot find this machine's address towards ${endpoint.host}: ${errorMessage(error)}`,
      { cause: error },
    );
  } finally {
    socket.close();
  }
}

/**
 * The address the cluster's nodes reach this machine by: the local address towards the first
 * node endpoint, from --endpoints or else from config.json. METROCTL_CONFIG when neither names
 * a node.
 */
export async function nodeFacingAddress(
  endpoints: readonly string[],
  config: ConfigStore,
): Promise<string> {
  let endpoint = endpoints[0];
  if (endpoint === undefined) {
    try {
      endpoint = (await config.clusterConfig()).endpoints[0];
    } catch (error) {
      if (!(error instanceof MetroctlError) || error.code !== 'METROCTL_CONFIG') throw error;
      throw noEndpoint(error.message, error);
    }
  }
  if (endpoint === undefined) throw noEndpoint(`${config.paths.config} lists no endpoints`);
  return localAddressTowards(parseEndpoint(endpoint, nodeManagementPort));
}

function noEndpoint(why: string, cause?: unknown): MetroctlError {
  return new MetroctlError(
    'METROCTL_CONFIG',
    `cannot tell the address the nodes reach this machine by (${why}): pass --serve-address, ` +
      'or --endpoints with a node address',
    { cause },
  );
}

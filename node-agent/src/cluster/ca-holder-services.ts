// What only a node that holds the cluster CA runs, once its kube-apiserver is ready: the
// cluster's API objects set up, and the registration and role-credentials services. It is the
// agent's one user of the Kubernetes client, so other nodes never load it.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { nodeCredentialsPort, nodeRegistrationPort, type NodeLayout } from '@metropolis/api';
import type { Logger } from '@metropolis/logging';
import type { NodeIdentity } from '../identity/node-identity.js';
import type { RunningServer } from '../rpc/grpc-server.js';
import { ClusterApi, type SelfNode } from './cluster-api.js';
import type { ClusterPki } from './cluster-pki.js';
import { caHolderServing } from './ca-holder-serving.js';
import { startCredentialsServer } from './credentials-server.js';
import { startRegistrationServer } from './registration-server.js';
import { startRevocationController } from './revocation-start.js';

export interface CaHolderDeps {
  readonly layout: NodeLayout;
  readonly identity: NodeIdentity;
  readonly address: string;
  readonly pki: ClusterPki;
  readonly crdsDir: string;
  /** The roles this node's MonogonNode is created with. */
  readonly roles: SelfNode['roles'];
  /** How often the revocation controller looks at the cluster. */
  readonly revocationPeriodMs: number;
  readonly log: Logger;
}

/** Sets the cluster up at `apiserverUrl` and serves until `signal` aborts. */
export async function serveAsCaHolder(
  deps: CaHolderDeps,
  apiserverUrl: string,
  signal: AbortSignal,
): Promise<void> {
  const { identity, address, pki, log } = deps;
  const api = new ClusterApi(apiserverUrl, await pki.adminCredentials());
  await api.apply(deps.crdsDir, { nodeId: identity.nodeId, address, roles: deps.roles }, signal);
  const revocation = await startRevocationController(deps, api, signal);
  // The file seeds the Secret once; from then on the Secret is the ticket (the owner rotates it).
  await api.storeRegisterTicket(await registerTicket(deps.layout));
  const ticket = cachedFor(ticketCacheMs, () => api.registerTicket());
  const servers: RunningServer[] = [];
  const serving = await caHolderServing(pki, identity.nodeId, address, log, signal);
  servers.push(
    await startRegistrationServer(`0.0.0.0:${String(nodeRegistrationPort)}`, {
      pki,
      api,
      ticket,
      maxPending: maxPendingNodes,
      serving: serving.registration,
      log,
    }),
  );
  servers.push(
    await startCredentialsServer(`0.0.0.0:${String(nodeCredentialsPort)}`, {
      pki,
      api,
      // A new controller's operator is bound before it can start.
      afterIssue: () => revocation.pass(),
      serving: serving.credentials,
      log,
    }),
  );
  signal.addEventListener(
    'abort',
    () => {
      for (const server of servers) void server.stop();
    },
    { once: true },
  );
}

/**
 * How long a read ticket is used before the Secret is read again: after a rotation, the old
 * ticket may still register a node for this long.
 */
export const ticketCacheMs = 5_000;

/** How many nodes may wait for approval at once; more are refused until some are decided. */
export const maxPendingNodes = 64;

/** `read`, called at most once per `ms` (a failed read is not kept). */
function cachedFor<T>(ms: number, read: () => Promise<T>): () => Promise<T> {
  let cached: { value: Promise<T>; until: number } | undefined;
  return () => {
    const now = Date.now();
    if (cached === undefined || cached.until <= now) {
      const value = read();
      cached = { value, until: now + ms };
      value.catch(() => {
        cached = undefined;
      });
    }
    return cached.value;
  };
}

/** The cluster's first register ticket, created once and kept with the CA. */
async function registerTicket(layout: NodeLayout): Promise<string> {
  const path = layout.registerTicket;
  const existing = await readFile(path, 'utf8').catch(() => undefined);
  if (existing !== undefined) return existing.trim();
  const ticket = randomBytes(24).toString('base64url');
  await writeFile(path, ticket, { mode: 0o600, flush: true });
  return ticket;
}

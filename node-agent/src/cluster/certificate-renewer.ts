// Keeps an owned node's certificates valid: its node certificate and its role certificates are
// renewed at two thirds of their lifetime, by its own CA when it holds it, otherwise by a CA
// holder (which refuses a node that left). Renewed certificates are put to use at once.
import { readFile } from 'node:fs/promises';
import type { NodeLayout } from '@metropolis/api';
import type { Logger } from '@metropolis/logging';
import { writeFileAtomic } from '@metropolis/process';
import { renewalDue } from './certificate-lifetimes.js';
import type { NodeRoles } from './node-roles.js';
import { runRenewalLoop } from './renewal-loop.js';
import type { RoleCredentialSource } from './role-credentials.js';
import { RoleFiles } from './role-files.js';

export interface CertificateRenewerDeps {
  readonly layout: NodeLayout;
  readonly roles: NodeRoles;
  /** Where role certificates come from (the same source that issued them). */
  readonly credentials: RoleCredentialSource;
  /** A new node certificate (PEM) for this node's key; the CA holder writes it itself. */
  readonly renewNodeCertificate: () => Promise<string>;
  /** Called with each renewed node certificate (the management API serves it). */
  readonly onNodeCertificate: (certificatePem: string) => void;
  readonly log: Logger;
  /** How soon a failed renewal is tried again. @default 10_000 */
  readonly retryMs?: number;
}

/** How often the due times are read again (credentials may appear meanwhile). */
const maxSleepMs = 60_000;

/** Renews until `signal` aborts. */
export async function runCertificateRenewal(
  deps: CertificateRenewerDeps,
  signal: AbortSignal,
): Promise<void> {
  const { layout, roles, log } = deps;
  const files = new RoleFiles(layout);
  const retry = deps.retryMs === undefined ? {} : { retryMs: deps.retryMs };
  const roleDue = async (
    role: 'ConsensusMember' | 'KubernetesController',
  ): Promise<number | undefined> => {
    const due = (await files.certificates(role)).map(renewalDue);
    return due.length === 0 ? undefined : Math.min(...due);
  };
  await Promise.all([
    runRenewalLoop(
      {
        name: 'node certificate',
        // A founding node writes its node certificate once its roles run.
        due: async () => {
          const pem = await readFile(layout.nodeCertificate, 'utf8').catch(() => undefined);
          return pem === undefined ? undefined : renewalDue(pem);
        },
        renew: async () => {
          const pem = await deps.renewNodeCertificate();
          await writeFileAtomic(layout.nodeCertificate, pem, { mode: 0o644 });
          deps.onNodeCertificate(pem);
        },
        log,
        maxSleepMs,
        ...retry,
      },
      signal,
    ),
    runRenewalLoop(
      {
        name: 'role certificates',
        due: async () => {
          const due = await Promise.all(roles.credentialedRoles.map(roleDue));
          const known = due.filter((time) => time !== undefined);
          return known.length === 0 ? undefined : Math.min(...known);
        },
        renew: async () => {
          for (const role of roles.credentialedRoles) {
            const due = await roleDue(role);
            if (due === undefined || due > Date.now()) continue;
            await files.renew(role, deps.credentials);
            await roles.credentialsRenewed(role);
          }
        },
        log,
        maxSleepMs,
        ...retry,
      },
      signal,
    ),
  ]);
}

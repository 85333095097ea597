// The cluster's register ticket: the shared secret new nodes register with. The bootstrap node
// keeps it in the Secret monogon-system/register-ticket, readable by the owner only; the owner
// may replace it (rotate), and the CA holder reads it again within seconds.
import { randomBytes } from 'node:crypto';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { systemNamespace } from '@metropolis/api';
import { MetroctlError } from '../errors.js';
import { fromKubernetesError, kubernetesFailure } from './kubernetes-error.js';

/** Name of the Secret (in the system namespace) that holds the ticket under `ticket`. */
export const registerTicketSecret = 'register-ticket';

/** Reads the register ticket. METROCTL_NOT_FOUND if the cluster has none (yet). */
export async function readRegisterTicket(kc: KubeConfig): Promise<string> {
  const where = `${systemNamespace}/${registerTicketSecret}`;
  let data: Record<string, string> | undefined;
  try {
    const secret = await kc
      .makeApiClient(CoreV1Api)
      .readNamespacedSecret({ name: registerTicketSecret, namespace: systemNamespace });
    data = secret.data;
  } catch (error) {
    if (kubernetesFailure(error)?.reason === 'NotFound') {
      throw new MetroctlError(
        'METROCTL_NOT_FOUND',
        `the cluster has no register ticket (no Secret ${where})`,
        { cause: error },
      );
    }
    throw fromKubernetesError(error, `read the register ticket (Secret ${where})`);
  }
  const ticket = Buffer.from(data?.ticket ?? '', 'base64').toString('utf8');
  if (ticket === '') {
    throw new MetroctlError('METROCTL_FAILED', `the Secret ${where} holds no ticket`);
  }
  return ticket;
}

/** Writes a new random ticket into the Secret and returns it; the old one stops working. */
export async function rotateRegisterTicket(kc: KubeConfig): Promise<string> {
  const where = `${systemNamespace}/${registerTicketSecret}`;
  const ticket = randomBytes(24).toString('base64url');
  try {
    await kc.makeApiClient(CoreV1Api).replaceNamespacedSecret({
      name: registerTicketSecret,
      namespace: systemNamespace,
      body: { metadata: { name: registerTicketSecret }, type: 'Opaque', stringData: { ticket } },
    });
  } catch (error) {
    throw fromKubernetesError(error, `rotate the register ticket (Secret ${where})`);
  }
  return ticket;
}

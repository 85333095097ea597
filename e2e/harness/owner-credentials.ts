// The cluster owner's credentials as metroctl keeps them in its config directory, for tests and
// benches that talk to etcd, kube-apiservers or node agents directly as the owner.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClientCredentials } from '@metropolis/control-plane';

export async function ownerCredentials(configDir: string): Promise<ClientCredentials> {
  const read = (file: string) => readFile(join(configDir, file), 'utf8');
  return {
    caPem: await read('ca.pem'),
    certificatePem: await read('owner.pem'),
    keyPem: await read('owner-key.pem'),
  };
}

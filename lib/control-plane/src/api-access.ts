// Reaching a kube-apiserver: a kubeconfig with embedded x509 credentials, and its /readyz probe.
import { request } from 'node:https';
import { stringify } from 'yaml';

/** PEM credentials of a TLS client. */
export interface ClientCredentials {
  readonly caPem: string;
  readonly certificatePem: string;
  readonly keyPem: string;
}

/** A kubeconfig with the credentials embedded; `name` names its cluster, user and context. */
export function kubeconfig(
  server: string,
  credentials: ClientCredentials,
  name = 'harness',
): string {
  const b64 = (pem: string): string => Buffer.from(pem).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server, 'certificate-authority-data': b64(credentials.caPem) } }],
    users: [
      {
        name,
        user: {
          'client-certificate-data': b64(credentials.certificatePem),
          'client-key-data': b64(credentials.keyPem),
        },
      },
    ],
    contexts: [{ name, context: { cluster: name, user: name } }],
    'current-context': name,
  });
}

/** GET /readyz with client credentials; resolves to the body. */
export function readyz(server: string, credentials: ClientCredentials): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server}/readyz`,
      {
        ca: credentials.caPem,
        cert: credentials.certificatePem,
        key: credentials.keyPem,
        timeout: 2_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          resolve(Buffer.concat(chunks).toString('utf8').trim());
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => {
      req.destroy(new Error('timeout'));
    });
    req.on('error', reject);
    req.end();
  });
}

// API clients made from SharedAgentKubeConfig reuse one TLS connection across requests.
import test from 'ava';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { CertificateAuthority } from '@metropolis/pki';
import { SharedAgentKubeConfig } from './shared-agent-kube-config.js';

/** Lists namespaces three times through `config` against a local server; returns its TLS connections. */
async function connectionsFor(config: KubeConfig): Promise<number> {
  const ca = await CertificateAuthority.create({ commonName: 'test-ca', algorithm: 'ecdsa-p256' });
  const issued = await ca.issue({
    commonName: 'apiserver',
    usages: ['server'],
    hosts: ['127.0.0.1'],
    algorithm: 'ecdsa-p256',
  });
  let connections = 0;
  const server = createServer(
    { cert: issued.certificatePem, key: await issued.keyPair.privateKeyPem() },
    (_request, response) => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ kind: 'NamespaceList', apiVersion: 'v1', items: [] }));
    },
  );
  server.on('secureConnection', () => {
    connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    config.loadFromOptions({
      clusters: [
        {
          name: 'test',
          server: `https://127.0.0.1:${String(port)}`,
          caData: Buffer.from(ca.certificatePem).toString('base64'),
        },
      ],
      users: [{ name: 'test', token: 'token' }],
      contexts: [{ name: 'test', cluster: 'test', user: 'test' }],
      currentContext: 'test',
    });
    const api = config.makeApiClient(CoreV1Api);
    for (let i = 0; i < 3; i++) await api.listNamespace();
    return connections;
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

test('requests share one connection', async (t) => {
  t.is(await connectionsFor(new SharedAgentKubeConfig()), 1);
});

test('client-node alone opens a connection per request', async (t) => {
  t.is(await connectionsFor(new KubeConfig()), 3);
});

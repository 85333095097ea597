// The limits every agent server holds to, measured on a real TLS server: a request over the
// message limit is refused before any handler runs.
import test from 'ava';
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import {
  NodeManagementClient,
  NodeManagementService,
  type StageUpdateProgress,
} from '@metropolis/api';
import { CertificateAuthority } from '@metropolis/pki';
import { serveGrpc } from './grpc-server.js';

test('a request larger than 1 MiB is refused with RESOURCE_EXHAUSTED before the handler', async (t) => {
  const ca = await CertificateAuthority.create({ commonName: 'limits test CA' });
  const server = await ca.issue({
    commonName: 'server',
    usages: ['server'],
    hosts: ['127.0.0.1'],
  });
  let handled = 0;
  const running = await serveGrpc(
    '127.0.0.1:0',
    {
      clientCaPem: null,
      certificatePem: server.certificatePem,
      keyPem: await server.keyPair.privateKeyPem(),
    },
    NodeManagementService,
    {
      stageUpdate: (call: { end: () => void }) => {
        handled += 1;
        call.end();
      },
    },
  );
  t.teardown(() => running.stop());
  const client = new NodeManagementClient(
    `127.0.0.1:${String(running.port)}`,
    credentials.createSsl(Buffer.from(ca.certificatePem)),
  );
  t.teardown(() => {
    client.close();
  });
  const stage = (url: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const call = client.stageUpdate({
        url,
        sha256: '',
        expectedVersion: '',
        allowDowngrade: false,
      });
      call.on('data', (_progress: StageUpdateProgress) => undefined);
      call.on('error', reject);
      call.on('end', resolve);
    });
  await stage('http://small/');
  t.is(handled, 1);
  const error = await t.throwsAsync<ServiceError>(stage(`http://${'x'.repeat(1 << 20)}/`));
  t.is(error.code, status.RESOURCE_EXHAUSTED, error.message);
  t.is(handled, 1, 'the handler never saw it');
});

// etcd as the agent runs it reads the revocation list on every handshake: a certificate of its
// CA is served on the peer and client ports until its serial is listed, and refused from then
// on, with no restart. Real etcd, a CRL signed by lib/pki.
import test from 'ava';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { etcdArgs } from '@metropolis/control-plane';
import {
  CertificateAuthority,
  decodePem,
  signRevocationList,
  type RevokedCertificate,
} from '@metropolis/pki';
import { ManagedProcess } from '@metropolis/process';
import { controlPlaneBinariesFrom, eventually, freePort } from '@metropolis/testing';

interface Pems {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** GET `url` over a fresh TLS connection with `pems`: the status code, or the error's words. */
function get(url: string, pems: Pems): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(
      url,
      { ca: pems.ca, cert: pems.cert, key: pems.key, agent: false, timeout: 3_000 },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    req.on('error', (error) => {
      resolve(error.message);
    });
    req.on('timeout', () => {
      req.destroy(new Error('timed out'));
    });
    req.end();
  });
}

test('etcd refuses a certificate on its peer and client ports once its serial is listed', async (t) => {
  const binaries = controlPlaneBinariesFrom(process.env);
  const dir = await mkdtemp(join(tmpdir(), 'etcd-revocation-'));
  const ca = await CertificateAuthority.create({ commonName: 'test cluster CA' });
  const hosts = ['127.0.0.1'];
  const [member, peer] = await Promise.all([
    ca.issue({ commonName: 'member', usages: ['server', 'client'], hosts }),
    ca.issue({ commonName: 'peer', usages: ['server', 'client'], hosts }),
  ]);
  const pems = async (issued: typeof member): Promise<Pems> => ({
    ca: ca.certificatePem,
    cert: issued.certificatePem,
    key: await issued.keyPair.privateKeyPem(),
  });
  const memberPems = await pems(member);
  const peerPems = await pems(peer);
  const files = {
    ca: join(dir, 'ca.pem'),
    cert: join(dir, 'etcd.pem'),
    key: join(dir, 'etcd-key.pem'),
  };
  await writeFile(files.ca, memberPems.ca);
  await writeFile(files.cert, memberPems.cert);
  await writeFile(files.key, memberPems.key, { mode: 0o600 });
  const crlFile = join(dir, 'revoked.crl');
  const writeList = async (revoked: RevokedCertificate[]): Promise<void> => {
    const pem = await signRevocationList(ca, revoked, new Date(Date.now() + 3_600_000));
    // etcd parses DER only (Go's x509.ParseRevocationList), as the agent writes its copy.
    await writeFile(`${crlFile}.tmp`, new Uint8Array(decodePem(pem, 'X509 CRL')));
    await rename(`${crlFile}.tmp`, crlFile);
  };
  await writeList([]);

  const [clientPort, peerPort] = await Promise.all([freePort(), freePort()]);
  const clientUrl = `https://127.0.0.1:${String(clientPort)}`;
  const peerUrl = `https://127.0.0.1:${String(peerPort)}`;
  const etcd = await ManagedProcess.start({
    command: binaries.etcd,
    logFile: join(dir, 'etcd.log'),
    args: etcdArgs({
      name: 'member',
      dataDir: join(dir, 'data'),
      clientUrls: [clientUrl],
      advertiseClientUrls: [clientUrl],
      peerUrls: [peerUrl],
      advertisePeerUrls: [peerUrl],
      initialCluster: `member=${peerUrl}`,
      initialClusterState: 'new',
      tls: files,
      unsafeNoFsync: true,
      crlFile,
    }),
  });
  t.teardown(async () => {
    await etcd.stop(2_000);
    await rm(dir, { recursive: true, force: true });
  });

  const members = `${peerUrl}/members`;
  const health = `${clientUrl}/health`;
  await eventually(async () => {
    const answer = await get(health, peerPems);
    if (answer !== 200) throw new Error(`etcd does not serve yet: ${String(answer)}`);
  }, 30_000);
  t.is(await get(members, peerPems), 200, 'the peer port serves the certificate before');
  t.is(await get(health, peerPems), 200, 'so does the client port');

  const serial = new X509Certificate(peer.certificatePem).serialNumber;
  await writeList([{ serial, revokedAt: new Date() }]);
  const refusedPeer = await get(members, peerPems);
  t.not(refusedPeer, 200, 'the peer port refuses it once listed');
  t.is(
    typeof refusedPeer,
    'string',
    `a failed connection, not an HTTP answer: ${String(refusedPeer)}`,
  );
  t.not(await get(health, peerPems), 200, 'so does the client port');
  t.is(await get(members, memberPems), 200, 'a certificate not listed is still served');
});

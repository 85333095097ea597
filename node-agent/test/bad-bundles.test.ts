// Every kind of bad bundle is refused by StageUpdate with a clear error, and the node's slots,
// ESP and EFI variables are byte-identical afterwards; nothing reboots.
import test from 'ava';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status as grpcStatus } from '@grpc/grpc-js';
import { NodeLayout } from '@metropolis/api';
import {
  bundleMagic,
  keyIdOf,
  signatureDomain,
  signingKeyFromPem,
  type BundleManifest,
} from '@metropolis/bundle';
import { agentRoots } from '@metropolis/process-node';
import {
  BundleServer,
  TestNode,
  buildRelease,
  devKeyPem,
  sha256Of,
  type Release,
} from './fixture-node.js';

let releases: string;
let v1: Release;
let v2: Release;
let node: TestNode;
let server: BundleServer;
let devKey: KeyObject;
const teardowns: (() => Promise<unknown>)[] = [];
const stallWindowSeconds = 2;

test.before(async () => {
  releases = await mkdtemp(join(tmpdir(), 'agent-bad-bundles-'));
  [v1, v2] = await Promise.all([
    buildRelease(releases, 'v0.1.0'),
    buildRelease(releases, 'v0.2.0'),
  ]);
  const collector = { teardown: (fn: () => Promise<unknown>) => teardowns.unshift(fn) };
  // A short stall window, so a drip-feeding host fails the stage quickly.
  node = await TestNode.start(collector, {
    release: v1,
    agentArgs: ['--download-idle-timeout', String(stallWindowSeconds)],
  });
  server = await BundleServer.start(node.network.hostAddress, collector);
  devKey = signingKeyFromPem(await readFile(devKeyPem, 'utf8')).privateKey;
});

test.after.always(async () => {
  for (const teardown of teardowns) await teardown();
  await rm(releases, { recursive: true, force: true });
});

/** A bundle laid out as docs/bundle-format.md says, from any manifest, signed with `key`. */
function craft(manifest: object, payloads: readonly Uint8Array[], key: KeyObject): Buffer {
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const signature = sign(null, Buffer.concat([Buffer.from(signatureDomain), manifestBytes]), key);
  const lengths = Buffer.alloc(4);
  lengths.writeUInt32LE(manifestBytes.length);
  const signatureLength = Buffer.alloc(2);
  signatureLength.writeUInt16LE(signature.length);
  return Buffer.concat([
    Buffer.from(bundleMagic),
    lengths,
    manifestBytes,
    signatureLength,
    signature,
    ...payloads,
  ]);
}

async function v2Parts(): Promise<{ manifest: BundleManifest; loader: Buffer; system: Buffer }> {
  const loader = await readFile(v2.loader);
  const system = await readFile(v2.systemImage);
  const manifest: BundleManifest = {
    formatVersion: 1,
    version: 'v0.2.0',
    securityEpoch: 0,
    flavour: 'process',
    architecture: 'x86_64',
    keyId: keyIdOf(devKey),
    files: [
      { name: 'loader.efi', role: 'loader', size: loader.length, sha256: sha256Of(loader) },
      { name: 'system.img', role: 'system', size: system.length, sha256: sha256Of(system) },
    ],
  };
  return { manifest, loader, system };
}

/** Stages what `url` serves and expects a refusal; checks that nothing on the node changed. */
async function refused(
  t: import('ava').ExecutionContext,
  url: string,
  sha256: string,
  code: number,
  message: RegExp,
): Promise<void> {
  const before = await node.diskFingerprint();
  const boots = (await node.node.boots()).length;
  const error = await t.throwsAsync(node.stage(url, sha256));
  t.is((error as { code?: number }).code, code, error.message);
  t.regex(error.message, message);
  t.deepEqual(await node.diskFingerprint(), before, 'slots, ESP and efivars are byte-identical');
  const status = await node.status();
  t.is(status.version, 'v0.1.0');
  t.is((await node.node.boots()).length, boots, 'nothing rebooted');
}

function serve(path: string, data: Uint8Array): string {
  return server.custom(path, (res) => {
    res.writeHead(200, { 'content-length': String(data.length) });
    res.end(data);
  });
}

test.serial('a bundle signed by a key the node does not trust', async (t) => {
  const { manifest, loader, system } = await v2Parts();
  const stranger = generateKeyPairSync('ed25519');
  const bundle = craft(
    { ...manifest, keyId: keyIdOf(stranger.publicKey) },
    [loader, system],
    stranger.privateKey,
  );
  await refused(
    t,
    serve('/untrusted', bundle),
    sha256Of(bundle),
    grpcStatus.INVALID_ARGUMENT,
    /bundle refused: BUNDLE_UNTRUSTED_KEY/,
  );
});

test.serial('a bundle whose manifest was altered after signing', async (t) => {
  const bytes = await readFile(v2.bundle);
  const at = bytes.indexOf('"v0.2.0"');
  const tampered = Buffer.from(bytes);
  tampered.write('"v0.2.9"', at);
  await refused(
    t,
    serve('/tampered', tampered),
    sha256Of(tampered),
    grpcStatus.INVALID_ARGUMENT,
    /bundle refused: BUNDLE_BAD_SIGNATURE/,
  );
});

test.serial('a bundle whose sha256 is not the one asked for', async (t) => {
  await refused(
    t,
    server.file('/v2', v2.bundle),
    v1.sha256,
    grpcStatus.INVALID_ARGUMENT,
    /bundle refused: BUNDLE_HASH_MISMATCH/,
  );
});

test.serial('a bundle whose system image was corrupted in transit', async (t) => {
  const corrupt = Buffer.from(await readFile(v2.bundle));
  const last = corrupt.length - 1;
  corrupt[last] = (corrupt[last] ?? 0) ^ 0xff;
  await refused(
    t,
    serve('/corrupt', corrupt),
    sha256Of(corrupt),
    grpcStatus.INVALID_ARGUMENT,
    /bundle refused: BUNDLE_HASH_MISMATCH/,
  );
});

test.serial('a truncated download', async (t) => {
  const bundle = await readFile(v2.bundle);
  const url = server.custom('/truncated', (res) => {
    res.writeHead(200, { 'content-length': String(bundle.length) });
    res.write(bundle.subarray(0, bundle.length >> 1), () => {
      res.socket?.destroy();
    });
  });
  await refused(
    t,
    url,
    v2.sha256,
    grpcStatus.INVALID_ARGUMENT,
    /bundle refused: .*(ended early|BUNDLE_TRUNCATED)/,
  );
});

test.serial('a bundle for another flavour', async (t) => {
  const { manifest, loader, system } = await v2Parts();
  const bundle = craft({ ...manifest, flavour: 'vm' }, [loader, system], devKey);
  await refused(
    t,
    serve('/vm', bundle),
    sha256Of(bundle),
    grpcStatus.INVALID_ARGUMENT,
    /bundle is for vm nodes; this is a process node/,
  );
});

test.serial('a bundle for another architecture', async (t) => {
  const { manifest, loader, system } = await v2Parts();
  const bundle = craft({ ...manifest, architecture: 'aarch64' }, [loader, system], devKey);
  await refused(
    t,
    serve('/arm', bundle),
    sha256Of(bundle),
    grpcStatus.INVALID_ARGUMENT,
    /bundle is for aarch64; this node is x86_64/,
  );
});

test.serial('a bundle whose file names escape', async (t) => {
  const { manifest, loader, system } = await v2Parts();
  const [loaderFile, systemFile] = manifest.files;
  const bundle = craft(
    { ...manifest, files: [{ ...loaderFile, name: '../../esp/EFI/BOOT/BOOTX64.EFI' }, systemFile] },
    [loader, system],
    devKey,
  );
  await refused(
    t,
    serve('/escape', bundle),
    sha256Of(bundle),
    grpcStatus.INVALID_ARGUMENT,
    /bundle refused: BUNDLE_PATH_ESCAPES/,
  );
});

test.serial('a bundle larger than the slot', async (t) => {
  const { manifest, loader, system } = await v2Parts();
  const [loaderFile, systemFile] = manifest.files;
  if (!loaderFile || !systemFile) throw new Error('manifest without files');
  const huge = { ...systemFile, size: 300 * 2 ** 20 };
  // Refused from the manifest alone: the 300 MiB never need to arrive.
  const bundle = craft({ ...manifest, files: [loaderFile, huge] }, [loader, system], devKey);
  await refused(
    t,
    serve('/huge', bundle),
    sha256Of(bundle),
    grpcStatus.INVALID_ARGUMENT,
    /system image \(314572800 bytes\) is larger than slot B \(268435456 bytes\)/,
  );
});

test.serial('a bundle with a loader over 256 MiB is refused before any payload byte', async (t) => {
  const { manifest, loader, system } = await v2Parts();
  const [loaderFile, systemFile] = manifest.files;
  if (!loaderFile || !systemFile) throw new Error('manifest without files');
  // The payloads sent are the small ones: only the signed sizes say 300 MiB.
  const bundle = craft(
    { ...manifest, files: [{ ...loaderFile, size: 300 * 2 ** 20 }, systemFile] },
    [loader, system],
    devKey,
  );
  await refused(
    t,
    serve('/huge-loader', bundle),
    sha256Of(bundle),
    grpcStatus.INVALID_ARGUMENT,
    /loader \(314572800 bytes\) is larger than the 256 MiB a node accepts/,
  );
});

test.serial(
  'a host that sends one byte per second fails the stage in the stall window; the next stage is accepted',
  async (t) => {
    const bundle = await readFile(v2.bundle);
    const url = server.custom('/drip', (res) => {
      res.writeHead(200, { 'content-length': String(bundle.length) });
      let sent = 0;
      const drip = setInterval(() => {
        if (res.destroyed) clearInterval(drip);
        else res.write(bundle.subarray(sent, (sent += 1)));
      }, 1000);
    });
    await refused(
      t,
      url,
      v2.sha256,
      grpcStatus.UNAVAILABLE,
      new RegExp(`the download stalled: \\d bytes in ${String(stallWindowSeconds)} s`),
    );
    const staging = new NodeLayout(agentRoots(node.node.layout)).staging;
    await t.throwsAsync(access(staging), { code: 'ENOENT' }, 'the staging area was cleared');
    const progress = await node.stage(server.file('/after-drip', v2.bundle), v2.sha256);
    t.is(progress.at(-1)?.version, 'v0.2.0');
  },
);

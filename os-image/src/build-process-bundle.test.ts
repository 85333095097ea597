// The process-flavour builder end to end: build with the dev key, verify, unpack, run the agent.
import test from 'ava';
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { appendFile, mkdir, mkdtemp, open, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { list, extract, type ReadEntry } from 'tar';
import {
  BundleError,
  developmentReleaseKeyId,
  readBundle,
  releaseKeyFromPem,
  type BundleFile,
} from '@metropolis/bundle';
import { OsImageError, buildProcessBundle, workspacePaths } from './index.js';

const paths = workspacePaths();
const tinyAgent = join(paths.osImage, 'test', 'fixtures', 'tiny-agent.ts');
const signingKeyPem = await readFile(paths.devReleaseKey.privateKeyPem, 'utf8');
const trusted = releaseKeyFromPem(await readFile(paths.devReleaseKey.publicKeyPem, 'utf8'));

async function tempDir(t: { teardown: (f: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'os-image-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Reads a bundle as a node would, writing each payload to `dir/<name>`. */
async function unpack(bundle: string, dir: string, expectedSha256?: string) {
  return readBundle(createReadStream(bundle), {
    trustedKeys: [trusted],
    ...(expectedSha256 === undefined ? {} : { expectedSha256 }),
    openPayload: async (file: BundleFile) => {
      const handle = await open(join(dir, file.name), 'w');
      return {
        write: async (chunk) => {
          await handle.write(chunk);
        },
        close: () => handle.close(),
      };
    },
  });
}

test('a process bundle verifies with the dev key and holds loader, agent and release.json', async (t) => {
  const dir = await tempDir(t);
  const out = join(dir, 'bundle.bin');
  const built = await buildProcessBundle({
    version: 'v0.2.0',
    signingKeyPem,
    out,
    agentEntry: tinyAgent,
    operatorEntry: null,
  });
  t.is(built.out, out);
  t.is(built.manifest.keyId, trusted.keyId);
  t.is(trusted.keyId, developmentReleaseKeyId, 'the committed dev key is the one nodes single out');
  const payloads = join(dir, 'payloads');
  await mkdir(payloads);
  const manifest = await unpack(out, payloads, built.sha256);
  t.deepEqual(manifest, built.manifest);
  t.like(manifest, {
    formatVersion: 1,
    version: 'v0.2.0',
    flavour: 'process',
    architecture: 'x86_64',
  });
  t.deepEqual(
    manifest.files.map((file) => [file.name, file.role]),
    [
      ['loader.efi', 'loader'],
      ['system.img', 'system'],
    ],
  );

  t.is(
    await readFile(join(payloads, 'loader.efi'), 'utf8'),
    '{"kind":"metropolis-process-loader","formatVersion":1,"version":"v0.2.0","cmdline":"console=ttyS0 root=PARTLABEL=METROPOLIS-SYSTEM-X"}',
  );

  const entries: { path: string; mode: number; mtime: number; uid: number }[] = [];
  await list({
    file: join(payloads, 'system.img'),
    onReadEntry: (entry: ReadEntry) => {
      entries.push({
        path: entry.path,
        mode: entry.mode ?? -1,
        mtime: entry.mtime?.getTime() ?? -1,
        // Portable archives leave the owner empty; extractors read it as 0.
        uid: entry.uid ?? 0,
      });
    },
  });
  const crds = (await readdir(workspacePaths().crds)).filter((name) => name.endsWith('.yaml'));
  t.true(crds.includes('monogon-node.yaml'));
  // A dynamic import is a chunk of its own, named with a hash of its contents.
  const chunks = entries
    .map((entry) => entry.path)
    .filter((path) => path.startsWith('node-agent-chunks/'));
  t.true(chunks.some((path) => /^node-agent-chunks\/tiny-lazy-[A-Z0-9]{8}\.mjs$/.test(path)));
  t.deepEqual(entries, [
    { path: 'release.json', mode: 0o644, mtime: 0, uid: 0 },
    { path: 'node-agent.mjs', mode: 0o644, mtime: 0, uid: 0 },
    ...chunks.map((path) => ({ path, mode: 0o644, mtime: 0, uid: 0 })),
    ...crds.sort().map((name) => ({ path: `crds/${name}`, mode: 0o644, mtime: 0, uid: 0 })),
  ]);

  const root = join(dir, 'root');
  await mkdir(root);
  await extract({ file: join(payloads, 'system.img'), cwd: root });
  t.deepEqual((await readdir(root)).sort(), [
    'crds',
    'node-agent-chunks',
    'node-agent.mjs',
    'release.json',
  ]);
  t.is(
    await readFile(join(root, 'release.json'), 'utf8'),
    '{"version":"v0.2.0","flavour":"process","architecture":"x86_64","healthCheck":"ok"}',
  );
  // The bundled agent runs on plain node, outside the checkout, and finds release.json.
  const { stdout } = await promisify(execFile)(process.execPath, [join(root, 'node-agent.mjs')], {
    cwd: dir,
  });
  t.deepEqual(JSON.parse(stdout), {
    release: { version: 'v0.2.0', flavour: 'process', architecture: 'x86_64', healthCheck: 'ok' },
    errorName: 'CodedError',
    commander: 'function',
    lazyWord: 'loaded when needed',
  });
});

test('building twice gives a byte-identical bundle', async (t) => {
  const dir = await tempDir(t);
  const options = { version: 'v0.3.0', signingKeyPem, agentEntry: tinyAgent, operatorEntry: null };
  const first = await buildProcessBundle({ ...options, out: join(dir, 'a.bin') });
  const second = await buildProcessBundle({ ...options, out: join(dir, 'b.bin') });
  t.is(first.sha256, second.sha256);
  t.true((await readFile(first.out)).equals(await readFile(second.out)));
});

test('the system image is self-delimiting: zero padding after it changes nothing', async (t) => {
  const dir = await tempDir(t);
  const built = await buildProcessBundle({
    version: 'v0.2.0',
    signingKeyPem,
    out: join(dir, 'bundle.bin'),
    agentEntry: tinyAgent,
    operatorEntry: null,
    healthCheck: 'fail',
    architecture: 'aarch64',
  });
  await unpack(built.out, dir);
  const slot = join(dir, 'system.img');
  await appendFile(slot, Buffer.alloc(1024 * 1024));
  const root = join(dir, 'root');
  await mkdir(root);
  await extract({ file: slot, cwd: root });
  t.deepEqual(JSON.parse(await readFile(join(root, 'release.json'), 'utf8')), {
    version: 'v0.2.0',
    flavour: 'process',
    architecture: 'aarch64',
    healthCheck: 'fail',
  });
});

test('bad options fail with typed errors before anything is written', async (t) => {
  const dir = await tempDir(t);
  const out = join(dir, 'bundle.bin');
  const base = {
    version: 'v0.2.0',
    signingKeyPem,
    out,
    agentEntry: tinyAgent,
    operatorEntry: null,
  };
  const cases = [
    [{ version: '../v1' }, 'OS_IMAGE_INVALID_OPTION'],
    [{ cmdline: 'console=ttyS0 root=/dev/sda' }, 'OS_IMAGE_INVALID_OPTION'],
    [{ agentEntry: join(dir, 'missing.ts') }, 'OS_IMAGE_AGENT_BUILD_FAILED'],
  ] as const;
  for (const [patch, code] of cases) {
    const error = await t.throwsAsync(buildProcessBundle({ ...base, ...patch }), {
      instanceOf: OsImageError,
    });
    t.is(error.code, code);
  }
  const badKey = await t.throwsAsync(buildProcessBundle({ ...base, signingKeyPem: 'x' }), {
    instanceOf: BundleError,
  });
  t.is(badKey.code, 'BUNDLE_INVALID_KEY');
  t.deepEqual(await readdir(dir), []);
});

test('the default agent entry is the node agent of this checkout', (t) => {
  t.is(paths.agentEntry, join(paths.repository, 'node-agent', 'src', 'main.ts'));
});

// The metropolis-os-image CLI as a user runs it: the bin script, real processes, exit codes.
import test from 'ava';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { workspacePaths } from '../src/index.js';

const paths = workspacePaths();
const bin = join(paths.osImage, 'bin', 'metropolis-os-image.js');
const tinyAgent = join(paths.osImage, 'test', 'fixtures', 'tiny-agent.ts');

function run(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: tmpdir() }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

test('bundle --json builds a bundle that inspect verifies', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'os-image-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, 'bundle.bin');
  const built = await run([
    'bundle',
    '--version',
    'v0.2.0',
    '--flavour',
    'process',
    '--architecture',
    'x86_64',
    '--key',
    paths.devReleaseKey.privateKeyPem,
    '--out',
    out,
    '--operator-entry',
    'none',
    '--agent-entry',
    tinyAgent,
    '--security-epoch',
    '3',
    '--json',
  ]);
  t.is(built.code, 0, built.stderr);
  t.regex(built.stderr, /warning: signing with the development release key \(b11222d811dc7d2e\)/);
  const result = JSON.parse(built.stdout) as { out: string; sha256: string; size: number };
  t.is(result.out, out);
  t.is(result.size, (await readFile(out)).length);

  const inspected = await run([
    'inspect',
    out,
    '--trust',
    paths.devReleaseKey.publicKeyPem,
    '--sha256',
    result.sha256,
  ]);
  t.is(inspected.code, 0, inspected.stderr);
  t.regex(inspected.stdout, /signature, payload hashes and sizes verify/);
  t.regex(inspected.stdout, /version {7}v0\.2\.0 \(process, x86_64\)/);
  t.regex(inspected.stdout, /epoch {9}3\n/);

  const otherKey = join(dir, 'other.pub.pem');
  const { publicKey } = generateKeyPairSync('ed25519');
  await writeFile(otherKey, publicKey.export({ type: 'spki', format: 'pem' }));
  const untrusted = await run(['inspect', out, '--trust', otherKey]);
  t.is(untrusted.code, 1);
  t.regex(untrusted.stderr, /is not trusted .*\[BUNDLE_UNTRUSTED_KEY\]/);
});

test('a release key other than the development key signs without a warning', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'os-image-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const key = join(dir, 'release.key.pem');
  const { privateKey } = generateKeyPairSync('ed25519');
  await writeFile(key, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const built = await run([
    'bundle',
    '--version',
    'v0.2.0',
    '--key',
    key,
    '--out',
    join(dir, 'bundle.bin'),
    '--operator-entry',
    'none',
    '--agent-entry',
    tinyAgent,
  ]);
  t.is(built.code, 0, built.stderr);
  t.is(built.stderr, '');
  t.regex(built.stdout, /epoch {9}0\n/);
});

test('usage errors exit 2, build failures exit 1 with the error code', async (t) => {
  const usage = await run(['bundle', '--version', 'v1', '--flavour', 'docker']);
  t.is(usage.code, 2);
  t.regex(usage.stderr, /Allowed choices are process, vm/);
  const vm = await run([
    'bundle',
    '--version',
    'v1',
    '--flavour',
    'vm',
    '--key',
    paths.devReleaseKey.privateKeyPem,
    '--out',
    join(tmpdir(), 'never-written.bin'),
  ]);
  t.is(vm.code, 1);
  t.regex(vm.stderr, /vm flavour is not built yet \[OS_IMAGE_INVALID_OPTION\]/);
});

test('a malformed --version or --sha256 is a usage error naming the flag', async (t) => {
  const version = await run([
    'bundle',
    '--version',
    'v 1',
    '--key',
    paths.devReleaseKey.privateKeyPem,
    '--out',
    join(tmpdir(), 'never-written.bin'),
  ]);
  t.is(version.code, 2);
  t.is(
    version.stderr.split('\n')[0],
    "error: option '--version <version>' argument 'v 1' is invalid. " +
      'It must match /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/.',
  );
  const sha256 = await run([
    'inspect',
    join(tmpdir(), 'no-bundle.bin'),
    '--trust',
    paths.devReleaseKey.publicKeyPem,
    '--sha256',
    'xyz',
  ]);
  t.is(sha256.code, 2);
  t.is(
    sha256.stderr.split('\n')[0],
    "error: option '--sha256 <hex>' argument 'xyz' is invalid. It must be 64 hex digits.",
  );
});

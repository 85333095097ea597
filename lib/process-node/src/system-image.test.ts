// Slot images: a tar at offset 0 of a zero-padded slot file; anything else fails like a kernel
// that cannot mount root, and no entry may land outside the mounted root.
import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { create } from 'tar';
import { mountSystemImage, ProcessNodeError, writeSystemImage } from '@metropolis/process-node';

const slotSize = 1024 * 1024;

async function scratch(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'process-node-image-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A system image made by node-tar from a directory of files. */
async function image(dir: string, files: Record<string, string>): Promise<string> {
  const source = join(dir, 'source');
  await mkdir(source, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(source, name, '..'), { recursive: true });
    await writeFile(join(source, name), content);
  }
  const path = join(dir, 'image.tar');
  await create({ file: path, cwd: source, portable: true }, Object.keys(files));
  return path;
}

/** One ustar entry written by hand, for names node-tar would never produce. */
function rawEntry(name: string, content: string): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 'latin1');
  header.write('0000644\0', 100, 'latin1');
  header.write('0000000\0', 108, 'latin1');
  header.write('0000000\0', 116, 'latin1');
  header.write(`${content.length.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  header.write('00000000000\0', 136, 'latin1');
  header.write('        ', 148, 'latin1');
  header.write('0', 156, 'latin1');
  header.write('ustar\0' + '00', 257, 'latin1');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  const body = Buffer.alloc(Math.ceil(content.length / 512) * 512);
  body.write(content, 'latin1');
  return Buffer.concat([header, body]);
}

async function slotWith(dir: string, bytes: Uint8Array): Promise<string> {
  const path = join(dir, 'slot');
  await writeFile(path, bytes);
  await truncate(path, slotSize);
  return path;
}

async function mountError(slot: string, rootfs: string): Promise<ProcessNodeError> {
  await mkdir(rootfs, { recursive: true });
  const error = await mountSystemImage(slot, rootfs).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof ProcessNodeError))
    throw new Error(`expected a ProcessNodeError, got ${String(error)}`);
  return error;
}

test('an image written into a slot mounts with its files', async (t) => {
  const dir = await scratch(t);
  const tar = await image(dir, {
    'node-agent.mjs': 'console.log("hi")\n',
    'release.json': '{"version":"v0.2.0"}\n',
    'lib/deep/module.mjs': 'export {};\n',
  });
  const slot = join(dir, 'system-a');
  await writeSystemImage(slot, tar, slotSize);
  t.is((await stat(slot)).size, slotSize);
  const rootfs = join(dir, 'rootfs');
  await mkdir(rootfs);
  await mountSystemImage(slot, rootfs);
  t.is(await readFile(join(rootfs, 'node-agent.mjs'), 'utf8'), 'console.log("hi")\n');
  t.is(await readFile(join(rootfs, 'lib/deep/module.mjs'), 'utf8'), 'export {};\n');
});

test('a smaller image over a larger one leaves the slot size alone and mounts the new one', async (t) => {
  const dir = await scratch(t);
  const slot = join(dir, 'system-a');
  await writeSystemImage(
    slot,
    await image(join(dir, 'big'), { 'node-agent.mjs': 'x'.repeat(100_000) }),
    slotSize,
  );
  await writeSystemImage(
    slot,
    await image(join(dir, 'small'), { 'node-agent.mjs': 'small' }),
    slotSize,
  );
  t.is((await stat(slot)).size, slotSize);
  const rootfs = join(dir, 'rootfs');
  await mkdir(rootfs);
  await mountSystemImage(slot, rootfs);
  t.is(await readFile(join(rootfs, 'node-agent.mjs'), 'utf8'), 'small');
});

test('an image larger than the slot is refused', async (t) => {
  const dir = await scratch(t);
  const tar = await image(dir, { 'node-agent.mjs': 'x'.repeat(2 * slotSize) });
  const error = await t.throwsAsync(writeSystemImage(join(dir, 'slot'), tar, slotSize), {
    instanceOf: ProcessNodeError,
  });
  t.is(error.code, 'SYSTEM_IMAGE_TOO_LARGE');
});

const broken: ReadonlyArray<[string, () => Buffer, RegExp]> = [
  ['an empty slot', () => Buffer.alloc(0), /the slot is empty/],
  [
    'garbage',
    () => Buffer.from('MZ this is a PE file, not a tar archive'.repeat(20)),
    /no valid tar header/,
  ],
  ['no node-agent.mjs', () => rawEntry('release.json', '{}'), /no node-agent\.mjs/],
  [
    'an entry escaping with ..',
    () => Buffer.concat([rawEntry('node-agent.mjs', 'x'), rawEntry('../escaped.txt', 'x')]),
    /escape|\.\./,
  ],
  [
    'an absolute entry',
    () =>
      Buffer.concat([rawEntry('node-agent.mjs', 'x'), rawEntry('/tmp/escaped-absolute.txt', 'x')]),
    /escape|absolute/,
  ],
  ['a gzipped archive', () => gzipSync(rawEntry('node-agent.mjs', 'x')), /no valid tar header/],
];

for (const [name, bytes, message] of broken) {
  test(`a slot with ${name} does not mount`, async (t) => {
    const dir = await scratch(t);
    const slot = await slotWith(dir, bytes());
    const rootfs = join(dir, 'mnt', 'rootfs');
    const error = await mountError(slot, rootfs);
    t.is(error.code, 'SYSTEM_IMAGE_INVALID');
    t.regex(error.message, message);
    t.false(existsSync(join(dir, 'mnt', 'escaped.txt')));
    t.false(existsSync('/tmp/escaped-absolute.txt'));
  });
}

test('an entry running past the end of the slot does not mount', async (t) => {
  const dir = await scratch(t);
  const path = join(dir, 'slot');
  const entry = rawEntry('node-agent.mjs', 'x'.repeat(4096));
  await writeFile(path, entry.subarray(0, 1024));
  const error = await mountError(path, join(dir, 'rootfs'));
  t.is(error.code, 'SYSTEM_IMAGE_INVALID');
});

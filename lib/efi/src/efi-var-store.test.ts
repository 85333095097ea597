// EfiVarStore on a plain temp directory with the efivarfs file format.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import {
  EfiError,
  EfiVarStore,
  decodeEfiString,
  efiGlobalVariable,
  encodeEfiString,
  systemdLoaderVendor,
} from './index.js';

/** A store on a fresh temp directory, removed when the test ends. */
async function tempStore(t: ExecutionContext): Promise<{ dir: string; store: EfiVarStore }> {
  const dir = await mkdtemp(join(tmpdir(), 'efivars-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return { dir, store: new EfiVarStore(dir) };
}

test('write stores the 4-byte LE attributes then the data in one file; read returns both', async (t) => {
  const { dir, store } = await tempStore(t);
  await store.write('BootNext', Uint8Array.of(0x11, 0x00));
  const file = join(dir, `BootNext-${efiGlobalVariable}`);
  t.deepEqual(new Uint8Array(await readFile(file)), Uint8Array.of(7, 0, 0, 0, 0x11, 0));
  t.deepEqual(await store.read('BootNext'), { attributes: 7, data: Uint8Array.of(0x11, 0) });

  await store.write('Custom', Uint8Array.of(1, 2, 3), {
    vendor: systemdLoaderVendor,
    attributes: 0x6,
  });
  t.deepEqual(
    new Uint8Array(await readFile(join(dir, `Custom-${systemdLoaderVendor}`))),
    Uint8Array.of(6, 0, 0, 0, 1, 2, 3),
  );
  // Rewriting truncates: a shorter value leaves nothing of the old one behind.
  await store.write('Custom', new Uint8Array(), { vendor: systemdLoaderVendor });
  t.deepEqual(await store.read('Custom', systemdLoaderVendor), {
    attributes: 7,
    data: new Uint8Array(),
  });
});

test('list returns the sorted names of one vendor; delete removes and tolerates absence', async (t) => {
  const { store } = await tempStore(t);
  await store.write('BootOrder', new Uint8Array());
  await store.write('Boot0001', new Uint8Array());
  await store.write('LoaderImageIdentifier', encodeEfiString('\\EFI\\BOOT\\BOOTX64.EFI'), {
    vendor: systemdLoaderVendor.toUpperCase(),
  });
  t.deepEqual(await store.list(), ['Boot0001', 'BootOrder']);
  t.deepEqual(await store.list(systemdLoaderVendor), ['LoaderImageIdentifier']);
  const identifier = await store.read('LoaderImageIdentifier', systemdLoaderVendor);
  t.is(decodeEfiString(identifier.data), '\\EFI\\BOOT\\BOOTX64.EFI');

  await store.delete('Boot0001');
  await store.delete('Boot0001');
  t.deepEqual(await store.list(), ['BootOrder']);
});

test('a missing variable is EFI_VAR_NOT_FOUND; tryRead gives undefined', async (t) => {
  const { store } = await tempStore(t);
  const error = await t.throwsAsync(store.read('Nope'), { instanceOf: EfiError });
  t.is(error.code, 'EFI_VAR_NOT_FOUND');
  t.is(await store.tryRead('Nope'), undefined);
});

test('a file under 4 bytes is EFI_MALFORMED; bad names and vendors are EFI_INVALID_ARGUMENT', async (t) => {
  const { dir, store } = await tempStore(t);
  await writeFile(join(dir, `Short-${efiGlobalVariable}`), Uint8Array.of(7, 0, 0));
  const short = await t.throwsAsync(store.read('Short'), { instanceOf: EfiError });
  t.is(short.code, 'EFI_MALFORMED');
  t.regex(short.message, /3 bytes/);
  for (const run of [
    () => store.read('../escape'),
    () => store.read('X', 'not-a-guid'),
    () => store.write('', new Uint8Array()),
    () => store.write('X', new Uint8Array(), { attributes: 2 ** 32 }),
    () => store.list('nope'),
  ]) {
    const error = await t.throwsAsync(run(), { instanceOf: EfiError });
    t.is(error.code, 'EFI_INVALID_ARGUMENT');
  }
});

test('file system failures are EFI_IO with the cause attached', async (t) => {
  const { dir } = await tempStore(t);
  const store = new EfiVarStore(join(dir, 'missing'));
  const listed = await t.throwsAsync(store.list(), { instanceOf: EfiError });
  t.is(listed.code, 'EFI_IO');
  t.truthy(listed.cause);
  const written = await t.throwsAsync(store.write('X', new Uint8Array()), { instanceOf: EfiError });
  t.is(written.code, 'EFI_IO');
});

test('decodeEfiString drops one trailing NUL and rejects odd lengths', (t) => {
  t.is(decodeEfiString(encodeEfiString('abc')), 'abc');
  t.is(decodeEfiString(Uint8Array.of(0x61, 0)), 'a');
  const error = t.throws(() => decodeEfiString(Uint8Array.of(0x61)), { instanceOf: EfiError });
  t.is(error.code, 'EFI_MALFORMED');
});
